package e2e

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestRebuildWhileDelivering runs `buzzmirror rebuild` against a serving
// instance while senders deliver: every delivery is answered 200 while it
// runs, and once the projector caught up the mirror equals a clean
// delivery of everything.
func TestRebuildWhileDelivering(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			s := start(t, "BUZZMIRROR_DATABASE_DRIVER="+driver, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
			bodies := stream(3000)
			out, acked := s.whileDelivering(t, bodies[:1500], bodies[1500:], func() string {
				return s.run(t, "rebuild", "--cache-rows", "200")
			})
			if !strings.Contains(out, "rebuilt from") {
				t.Fatalf("rebuild: %s", out)
			}
			if len(acked) != countIDs(bodies[1500:]) {
				t.Errorf("%d of %d deliveries made during the rebuild were answered 200", len(acked), countIDs(bodies[1500:]))
			}
			s.settle(t)
			db := openStore(t, driver, dsn)
			if got, want := mirror(t, db), cleanMirror(t, driver, bodies); !reflect.DeepEqual(got, want) {
				t.Error("after a rebuild under deliveries the mirror differs from a clean delivery")
			}
		})
	}
}

// TestProjectionFailureIsolated makes the database refuse one contact's
// row: the webhook answers 200 throughout, that event ends failed with
// the reason, and every other event is applied.
func TestProjectionFailureIsolated(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			s := start(t, "BUZZMIRROR_DATABASE_DRIVER="+driver, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
			refusal := map[string][]string{
				store.DriverSQLite: {`CREATE TRIGGER refuse BEFORE INSERT ON contacts WHEN NEW.id = 'cnt_poison'
					BEGIN SELECT RAISE(ABORT, 'refused'); END`},
				store.DriverPostgres: {
					`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN IF NEW.id = 'cnt_poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
					`CREATE TRIGGER refuse BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse()`,
				},
			}
			storetest.Exec(t, driver, dsn, refusal[driver]...)
			client := &http.Client{Timeout: 20 * time.Second}
			for i := range 40 {
				id := "cnt_" + strconv.Itoa(i)
				if i == 17 {
					id = "cnt_poison"
				}
				body := []byte(fmt.Sprintf(`{"id":"evt_%d","type":"contact.created","createdAt":"2026-06-01T10:00:00Z","data":{"contactId":%q,"name":"N"}}`, i, id))
				if code, err := post(client, "http://"+s.addr+"/webhooks/buzzbip", body); err != nil || code != 200 {
					t.Fatalf("delivery %d: %d %v", i, code, err)
				}
			}
			s.settle(t)
			db := openStore(t, driver, dsn)
			bad, err := db.Event(context.Background(), "evt_17")
			if err != nil || bad.Status != models.EventFailed || bad.Error == nil || !strings.Contains(*bad.Error, "could not be applied") {
				t.Errorf("the refused event: %+v, %v", bad, err)
			}
			if st, err := db.Stats(context.Background()); err != nil || st.Contacts != 39 || st.Events[models.EventApplied] != 39 {
				t.Errorf("stats %+v, %v: want the 39 other contacts applied", st, err)
			}
		})
	}
}

// TestProjectorTakeoverAfterKill runs two instances on one Postgres and
// kills the one projecting with SIGKILL while events are pending: the
// other takes the lease over within 10 s and applies everything, and the
// mirror equals a clean delivery.
func TestProjectorTakeoverAfterKill(t *testing.T) {
	if len(storetest.Drivers(t)) < 2 {
		t.Skip("needs Postgres")
	}
	t.Parallel()
	dsn := storetest.DSN(t, store.DriverPostgres)
	env := []string{"BUZZMIRROR_DATABASE_DRIVER=postgres", "BUZZMIRROR_DATABASE_DSN=" + dsn, "BUZZMIRROR_WEBHOOK_SECRET=" + faultSecret}
	a := start(t, env...)
	b := start(t, env...)
	db := openStore(t, store.DriverPostgres, dsn)
	holder := func() *service {
		l, err := db.CurrentLease(context.Background())
		if err != nil || !l.Held {
			return nil
		}
		for _, s := range []*service{a, b} {
			if strings.HasSuffix(l.Holder, ":"+strconv.Itoa(s.cmd.Process.Pid)) {
				return s
			}
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for holder() == nil {
		if time.Now().After(deadline) {
			t.Fatal("neither instance took the lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	projecting := holder()
	other := a
	if projecting == a {
		other = b
	}
	bodies := stream(4000)
	var sent atomic.Int64
	done := make(chan map[string]bool)
	go func() {
		done <- spray("http://"+other.addr+"/webhooks/buzzbip", bodies, 16, make(chan struct{}), &sent)
	}()
	waitFor(t, &sent, 1500)
	if err := projecting.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = projecting.cmd.Wait()
	killed := time.Now()
	for holder() != other {
		if time.Since(killed) > 10*time.Second {
			t.Fatal("the other instance did not take the lease over within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("took over %s after the kill", time.Since(killed).Round(time.Millisecond))
	acked := <-done
	if len(acked) != countIDs(bodies) {
		t.Fatalf("%d of %d deliveries answered 200", len(acked), countIDs(bodies))
	}
	other.settle(t)
	assertJournaled(t, db, acked)
	if got, want := mirror(t, db), cleanMirror(t, store.DriverPostgres, bodies); !reflect.DeepEqual(got, want) {
		t.Error("after the takeover the mirror differs from a clean delivery")
	}
}
