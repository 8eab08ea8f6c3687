package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrBackupPostgres is Backup's answer on Postgres, whose own tools do it
// better.
var ErrBackupPostgres = errors.New("store: backup copies a SQLite database; for Postgres use pg_dump (for example pg_dump -Fc -f buzzmirror.dump \"$BUZZMIRROR_DATABASE_DSN\")")

// BackupProgress is how far a backup got: bytes written of about total
// (the source's size; the copy leaves free pages out, so it ends smaller).
type BackupProgress struct{ Written, Total int64 }

// Backup writes a consistent copy of the SQLite database to the file dst,
// which must not exist, while deliveries go on: VACUUM INTO reads one
// snapshot, and a snapshot never blocks the writer (WAL mode). The copy is
// created readable by its owner alone, like the database. progress, when
// not nil, is called every interval while it runs.
func (db *DB) Backup(ctx context.Context, dst string, interval time.Duration, progress func(BackupProgress)) error {
	if db.driver != DriverSQLite {
		return ErrBackupPostgres
	}
	if db.file == "" {
		return errors.New("store: backup: the database is in memory")
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: backup: %w (the copy must be a new file)", err)
	}
	f.Close()
	var total int64
	if st, err := os.Stat(db.file); err == nil {
		total = st.Size()
	}
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if progress == nil {
			return
		}
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if st, err := os.Stat(dst); err == nil {
					progress(BackupProgress{Written: st.Size(), Total: total})
				}
			}
		}
	}()
	// The checkpointer's connection may write, unlike the read pool's;
	// checkpoints wait meanwhile (they could not pass the snapshot anyway).
	db.checkpointing.Lock()
	err = db.checkpoint.WithContext(ctx).Exec("VACUUM INTO ?", dst).Error
	db.checkpointing.Unlock()
	close(done)
	<-watched
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("store: backup: %w", err)
	}
	if progress != nil {
		if st, err := os.Stat(dst); err == nil {
			progress(BackupProgress{Written: st.Size(), Total: st.Size()})
		}
	}
	return nil
}
