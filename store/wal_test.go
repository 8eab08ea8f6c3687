//go:build cgo

package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRewindWALNeverWaitsForAReader: the writer's WAL restart must not
// wait for a reader that holds an old snapshot (a rebuild or a backup
// streaming the database holds one for minutes), or every delivery waits
// with it. It gives up at once, and restarts the WAL after the reader is
// gone.
func TestRewindWALNeverWaitsForAReader(t *testing.T) {
	ctx := context.Background()
	// A busy timeout longer than the test's deadline: an implementation
	// that waited for the reader would be caught by the deadline.
	path := filepath.Join(t.TempDir(), "wal.db") + "?_busy_timeout=120000"
	db, err := Open(ctx, DriverSQLite, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	write := func() {
		t.Helper()
		if err := db.Write(ctx, func(tx *Tx) error { return tx.AddCounts(Counts{CountContacts: 1}) }); err != nil {
			t.Fatal(err)
		}
	}
	write()

	// A reader holds a snapshot, then the WAL grows past it.
	reader, err := db.read.DB()
	if err != nil {
		t.Fatal(err)
	}
	rtx, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := rtx.QueryRowContext(ctx, "SELECT COUNT(*) FROM counters").Scan(&n); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		write()
	}
	// As if the background checkpoints had found a long WAL, nearly all
	// copied.
	db.walFrames.Store(walRestartFrames)
	db.walBehind.Store(0)
	deadline, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { db.rewindWAL(deadline); close(done) }()
	select {
	case <-done:
	case <-deadline.Done():
		t.Fatal("the WAL restart waited for the reader")
	}
	if db.walFrames.Load() == 0 {
		t.Error("the WAL was restarted under a reader's snapshot")
	}
	var timeout int
	if err := db.write.Raw("PRAGMA busy_timeout").Row().Scan(&timeout); err != nil || timeout != 120000 {
		t.Errorf("the writer's busy timeout is %d after the restart attempt (%v); want it restored", timeout, err)
	}

	// The reader leaves: the next attempt restarts the WAL.
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	db.rewindWAL(ctx)
	if db.walFrames.Load() != 0 {
		t.Error("the WAL was not restarted once the reader had left")
	}

	// A WAL the background checkpoints are far behind on is left to them.
	db.walFrames.Store(walRestartFrames)
	db.walBehind.Store(walRestartBehind + 1)
	db.rewindWAL(ctx)
	if db.walFrames.Load() == 0 {
		t.Error("the writer copied a WAL the background checkpoints had not caught up with")
	}
}

// TestSweepWalksTheJournalByDate: the retention sweep's batches read the
// journal by createdAt, not every message event (see sweepQuery).
func TestSweepWalksTheJournalByDate(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, DriverSQLite, filepath.Join(t.TempDir(), "sweep.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.read.Raw("EXPLAIN QUERY PLAN "+db.sweepQuery(), "", "", "2026-01-01", 200).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if text := strings.Join(plan, "; "); !strings.Contains(text, "USING INDEX events_created") || strings.Contains(text, "TEMP B-TREE") {
		t.Errorf("the sweep's plan: %s", text)
	}
}

// TestWalRestartDue: the writer restarts a long WAL only once the
// background checkpoints have left it little to copy, unless the WAL has
// grown four times as long.
func TestWalRestartDue(t *testing.T) {
	for _, c := range []struct {
		frames, behind int64
		want           bool
	}{
		{walRestartFrames - 1, 0, false},
		{walRestartFrames, 0, true},
		{walRestartFrames, walRestartBehind, true},
		{walRestartFrames, walRestartBehind + 1, false},
		{4*walRestartFrames - 1, walRestartBehindMax, false},
		{4 * walRestartFrames, walRestartBehindMax, true},
		{4 * walRestartFrames, walRestartBehindMax + 1, false},
	} {
		if got := walRestartDue(c.frames, c.behind); got != c.want {
			t.Errorf("walRestartDue(%d, %d) = %v, want %v", c.frames, c.behind, got, c.want)
		}
	}
}
