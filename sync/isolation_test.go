package sync

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// refuseContact makes the database itself refuse to store the contact id,
// as it would a value it cannot take.
var refuseContact = map[string][]string{
	store.DriverSQLite: {`CREATE TRIGGER refuse BEFORE INSERT ON contacts WHEN NEW.id = 'cnt_poison'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`},
	store.DriverPostgres: {
		`CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.id = 'cnt_poison' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION refuse()`,
	},
}

// refusingDB opens a fresh database at dsn whose contacts table refuses
// the id cnt_poison.
func refusingDB(t *testing.T, driver, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, driver, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	refuse(t, db, dsn, "contacts")
	return db
}

// refuse installs the refusal on table.
func refuse(t testing.TB, db *store.DB, dsn, table string) {
	t.Helper()
	for _, stmt := range refuseContact[db.Driver()] {
		stmt = strings.ReplaceAll(stmt, "refuse", "refuse_"+table)
		storetest.Exec(t, db.Driver(), dsn, strings.ReplaceAll(stmt, "ON contacts", "ON "+table))
	}
}

// eachRefusing runs fn as a parallel subtest per driver, with a journal
// and projector on a database that refuses the contact cnt_poison.
func eachRefusing(t *testing.T, fn func(t *testing.T, db *store.DB, dsn string, s *testService)) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			db := refusingDB(t, driver, dsn)
			s := newTestService(db)
			defer s.Close()
			fn(t, db, dsn, s)
		})
	}
}

// poisoned is the index of the event, of eight, whose contact is refused.
const poisoned = 5

// contactEvent is the i-th of eight contact.created events, e0 to e7.
func contactEvent(i int) []byte {
	id := fmt.Sprint("cnt_", i)
	if i == poisoned {
		id = "cnt_poison"
	}
	return ev(fmt.Sprint("e", i), "contact.created", t1, obj{"contactId": id, "name": "N"})
}

// checkOnlyPoisonFailed checks the mirror holds the seven good contacts and
// the journal all eight events, the refused one as failed.
func checkOnlyPoisonFailed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	if m := MustSnapshot(t, db); len(m.Contacts) != 7 {
		t.Errorf("mirror holds %d contacts, want the 7 good ones", len(m.Contacts))
	}
	bad, err := db.Event(ctx, fmt.Sprint("e", poisoned))
	if err != nil || bad.Status != models.EventFailed {
		t.Errorf("refused event: %+v, %v; want it journaled as failed", bad, err)
	}
	if st := MustStats(t, db); st.JournalRows() != 8 || st.Events[models.EventFailed] != 1 || st.Events[models.EventApplied] != 7 {
		t.Errorf("journal counts %v, want 7 applied and 1 failed", st.Events)
	}
	checkCounters(t, db)
}

// TestBadEventFailsAlone journals eight events, one of which the
// database refuses to project: every delivery is answered accepted (the
// answer waits for the journal only), and the projector's batch, which
// fails, is applied event by event: the refused one is kept as failed with
// the reason, every other one is applied.
func TestBadEventFailsAlone(t *testing.T) {
	eachRefusing(t, func(t *testing.T, db *store.DB, _ string, s *testService) {
		for i := range 8 {
			res, err := s.Ingest(context.Background(), contactEvent(i))
			if err != nil || res.Outcome != Accepted {
				t.Errorf("event %d: %v, %v; want accepted", i, res.Outcome, err)
			}
		}
		MustDrain(t, s)
		checkOnlyPoisonFailed(t, db)
		bad, _ := db.Event(context.Background(), fmt.Sprint("e", poisoned))
		if bad.Error == nil || !strings.Contains(*bad.Error, "could not be applied") {
			t.Errorf("the failed event's reason is %v", bad.Error)
		}
	})
}

// TestPanicIsTheEventsFault: a projection that panics becomes an error
// that fails the event, not one the projector waits out as the
// database's trouble.
func TestPanicIsTheEventsFault(t *testing.T) {
	got := safely(func() error { panic("boom") })
	if got == nil || !strings.Contains(got.Error(), "projection panicked: boom") {
		t.Fatalf("safely: %v", got)
	}
	if store.Transient(got) {
		t.Fatal("a projection panic must not count as the database's trouble")
	}
}

// TestRebuildKeepsRefusedEventFailed projects the same events (the refused
// one kept as failed), then rebuilds onto shadow tables that refuse it too:
// the fast pass fails, the careful one keeps that event as failed and
// applies every other one, and the mirror is the one the projector made.
func TestRebuildKeepsRefusedEventFailed(t *testing.T) {
	eachRefusing(t, func(t *testing.T, db *store.DB, dsn string, s *testService) {
		for i := range 8 {
			if got := MustIngest(t, s, contactEvent(i)); got != Accepted {
				t.Errorf("event %d: %s, want accepted", i, got)
			}
		}
		before := dump(MustSnapshot(t, db))
		starts := 0
		st, err := Rebuild(context.Background(), db, discard, RebuildOptions{Page: 3, Progress: func(p RebuildProgress) {
			if p.Phase == "journal" && p.Done == 0 { // a new shadow: refuse there too
				starts++
				refuse(t, db, dsn, "rebuild_contacts")
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if starts != 2 {
			t.Errorf("the rebuild started %d times, want a fast pass and a careful one", starts)
		}
		if st != (RebuildStats{Events: 8, Applied: 7, Failed: 1}) {
			t.Errorf("rebuild: %+v, want 8 events, 7 applied, 1 failed", st)
		}
		if after := dump(MustSnapshot(t, db)); after != before {
			t.Errorf("rebuild changed the mirror:\n%s\nwant\n%s", after, before)
		}
		checkOnlyPoisonFailed(t, db)
	})
}
