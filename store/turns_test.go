//go:build cgo

package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestWritersTakeTurns: a bulk writer in another process (here another
// handle on the same file: SQLite locks the same way) that begins its next
// transaction right after each commit must leave the serving process's
// writer its turns. With SQLite's own busy handler, which sleeps up to
// 100 ms between tries, the second writer found the lock free only by
// chance: during a rebuild, deliveries waited seconds and some were
// answered 503.
func TestWritersTakeTurns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "turns.db")
	bulk, err := Open(ctx, DriverSQLite, path, Options{Yield: 3 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bulk.Close()
	if _, err := bulk.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	serving, err := Open(ctx, DriverSQLite, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer serving.Close()

	const bulkTxs = 60
	done := make(chan error, 1)
	go func() {
		for range bulkTxs {
			err := bulk.WriteLoose(ctx, func(tx *Tx) error {
				time.Sleep(10 * time.Millisecond) // a page's work, holding the lock
				return tx.AddCounts(Counts{CountContacts: 1})
			})
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	served := 0
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			if err := serving.WriteJournal(ctx, func(tx *Tx) error { return tx.AddCounts(Counts{CountWorkflowRuns: 1}) }); err != nil {
				t.Fatal(err)
			}
			served++
		}
	}
	// Taking turns, the serving writer (which writes as fast as it can)
	// gets in at every pause of the bulk writer, many times in each (over
	// 2,000 in all); by chance only, it got in a few dozen times.
	if served < 2*bulkTxs {
		t.Fatalf("the serving writer committed %d times while the bulk writer committed %d: it did not get its turns", served, bulkTxs)
	}
}
