package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/bench"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
	"github.com/buzzmirror/buzzmirror/sync"
)

const faultSecret = "fault-secret"

// stream returns n realistic bodies, duplicates and late events included.
func stream(n int) [][]byte {
	s := bench.NewStream("f", bench.StreamOptions{Seed: 9, Contacts: 300, Conversations: 600, Duplicates: 0.05, Disorder: 0.2})
	out := make([][]byte, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

func post(client *http.Client, url string, body []byte) (int, error) {
	m := hmac.New(sha256.New, []byte(faultSecret))
	m.Write(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-BuzzBip-Signature", hex.EncodeToString(m.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func eventID(body []byte) string {
	var env struct{ ID string }
	_ = json.Unmarshal(body, &env)
	return env.ID
}

// spray posts bodies from several goroutines until they run out or stop
// closes, and returns the ids that were answered 200.
func spray(url string, bodies [][]byte, senders int, stop <-chan struct{}, sent *atomic.Int64) map[string]bool {
	client := &http.Client{Timeout: 20 * time.Second}
	var mu gosync.Mutex
	acked := map[string]bool{}
	var wg gosync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(bodies); i += senders {
				select {
				case <-stop:
					return
				default:
				}
				code, err := post(client, url, bodies[i])
				if err == nil && code == http.StatusOK {
					mu.Lock()
					acked[eventID(bodies[i])] = true
					mu.Unlock()
					sent.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return acked
}

// whileDelivering delivers before one by one and waits until it is
// applied, then runs op while four senders deliver during; it returns
// what op printed and the ids answered 200 meanwhile.
func (s *service) whileDelivering(t *testing.T, before, during [][]byte, op func() string) (string, map[string]bool) {
	t.Helper()
	hook := "http://" + s.addr + "/webhooks/buzzbip"
	client := &http.Client{Timeout: 20 * time.Second}
	for _, b := range before {
		if code, err := post(client, hook, b); err != nil || code != 200 {
			t.Fatalf("delivering before: %d %v", code, err)
		}
	}
	s.settle(t)
	var sent atomic.Int64
	done := make(chan map[string]bool)
	go func() { done <- spray(hook, during, 4, make(chan struct{}), &sent) }()
	waitFor(t, &sent, int64(min(100, len(during))))
	out := op()
	return out, <-done
}

// openStore opens the database a stopped service used.
func openStore(t *testing.T, driver, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), driver, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// assertJournaled checks every acknowledged event is journaled and applied.
func assertJournaled(t *testing.T, db *store.DB, acked map[string]bool) {
	t.Helper()
	for id := range acked {
		e, err := db.Event(context.Background(), id)
		if err != nil {
			t.Errorf("event %s was answered 200 but is not journaled: %v", id, err)
			continue
		}
		if e.Status != models.EventApplied {
			t.Errorf("event %s is %s, want applied", id, e.Status)
		}
	}
}

// mirror reads a mirror in comparable form.
func mirror(t *testing.T, db *store.DB) *store.Dump {
	t.Helper()
	m, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Comparable(m)
}

// cleanMirror delivers bodies in order, one by one, to a fresh database.
func cleanMirror(t *testing.T, driver string, bodies [][]byte) *store.Dump {
	t.Helper()
	db := storetest.Open(t, driver)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	j := sync.NewJournal(db, log, sync.JournalOptions{})
	defer j.Close()
	p := sync.NewProjector(db, log, sync.ProjectorOptions{Holder: "clean"})
	for _, b := range bodies {
		if _, err := j.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		if err := p.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return mirror(t, db)
}

// TestCrashLosesNothing kills the service with SIGKILL while many senders
// deliver, restarts it on the same database, and checks the promise: every
// event answered 200 is journaled and applied, and delivering everything
// again converges to the mirror of a clean delivery.
func TestCrashLosesNothing(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			env := []string{"BUZZMIRROR_DATABASE_DRIVER=" + driver, "BUZZMIRROR_DATABASE_DSN=" + dsn,
				"BUZZMIRROR_WEBHOOK_SECRET=" + faultSecret}
			bodies := stream(3000)
			s := start(t, env...)
			stop := make(chan struct{})
			var sent atomic.Int64
			done := make(chan map[string]bool)
			go func() { done <- spray("http://"+s.addr+"/webhooks/buzzbip", bodies, 16, stop, &sent) }()
			waitFor(t, &sent, 500)
			if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = s.cmd.Wait()
			close(stop)
			acked := <-done
			t.Logf("%d events acknowledged before SIGKILL", len(acked))

			restarted := start(t, env...)
			restarted.settle(t) // the events journaled but not yet applied before the kill
			db := openStore(t, driver, dsn)
			assertJournaled(t, db, acked)

			again := spray("http://"+restarted.addr+"/webhooks/buzzbip", bodies, 16, make(chan struct{}), &sent)
			if len(again) != countIDs(bodies) {
				t.Fatalf("resend: %d of %d distinct events answered 200", len(again), countIDs(bodies))
			}
			restarted.settle(t)
			if got, want := mirror(t, db), cleanMirror(t, driver, bodies); !reflect.DeepEqual(got, want) {
				t.Error("after the crash and a resend the mirror differs from a clean delivery")
			}
		})
	}
}

// TestGracefulShutdownUnderLoad sends SIGTERM while senders deliver: the
// service exits 0 within its shutdown timeout, every event it answered 200
// is journaled, and applied once the service runs again.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	driver := "sqlite"
	dsn := storetest.DSN(t, driver)
	s := start(t, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret, "BUZZMIRROR_SHUTDOWN_TIMEOUT=10s")
	bodies := stream(4000)
	var sent atomic.Int64
	done := make(chan map[string]bool)
	go func() { done <- spray("http://"+s.addr+"/webhooks/buzzbip", bodies, 16, make(chan struct{}), &sent) }()
	waitFor(t, &sent, 300)
	begin := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not exit within 20 s of SIGTERM")
	}
	t.Logf("exited %s after SIGTERM", time.Since(begin).Round(time.Millisecond))
	acked := <-done
	if len(acked) == countIDs(bodies) {
		t.Log("every event was delivered before the shutdown completed")
	}
	start(t, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret).settle(t)
	assertJournaled(t, openStore(t, driver, dsn), acked)
}

// waitFor waits until n deliveries were acknowledged.
func waitFor(t *testing.T, sent *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); sent.Load() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d deliveries acknowledged within a minute", sent.Load(), n)
		}
	}
}

func countIDs(bodies [][]byte) int {
	ids := map[string]bool{}
	for _, b := range bodies {
		ids[eventID(b)] = true
	}
	return len(ids)
}
