package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Readiness means "a delivery now would be journaled": the database
// answers (a ping), and commits: a recent commit says so; without one, a
// probe commits a write that changes nothing, at most once a second. A database
// that answers reads but cannot write (a full disk, a read-only file, a
// file deleted under the service) is not ready.

// readyFor is how long a successful commit vouches for readiness.
const readyFor = 2 * time.Second

// noteCommit records the outcome of a write transaction for Ready.
func (db *DB) noteCommit(err error) {
	now := time.Now().UnixNano()
	if err == nil {
		db.lastCommit.Store(now)
		return
	}
	if errors.Is(err, ErrUnavailable) {
		db.lastFailure.Store(now)
	}
}

// Ready reports whether the database can commit now.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	ok, failed := db.lastCommit.Load(), db.lastFailure.Load()
	if ok > failed && time.Since(time.Unix(0, ok)) < readyFor {
		return nil
	}
	db.probing.Lock()
	defer db.probing.Unlock()
	if db.probed.After(time.Now().Add(-time.Second)) {
		return db.probeErr
	}
	db.probed = time.Now()
	db.probeErr = db.WriteJournal(ctx, func(tx *Tx) error {
		return tx.exec(tx.texts.rebind("UPDATE counters SET n = n WHERE name = ?"), []any{markLastReceivedAt})
	})
	if db.probeErr != nil {
		db.probeErr = fmt.Errorf("store: the database cannot commit: %w", db.probeErr)
	}
	return db.probeErr
}

// goneErr is the error every write and readiness check fails with once
// the database file is no longer the one the service opened (SQLite).
func (db *DB) goneErr() error {
	if reason := db.gone.Load(); reason != nil {
		return fmt.Errorf("%w: %s", ErrUnavailable, *reason)
	}
	return nil
}
