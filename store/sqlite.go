//go:build cgo

package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// SQLite write path. Each committed batch appends every page it changed to
// the WAL, and random ids (events, messages, conversations) touch a few
// random B-tree pages each, so the WAL volume per event decides ingest
// speed. Three settings keep it down, measured with `buzzmirror bench
// ingest` (see BENCHMARKS.md):
//
//   - 1 KiB pages: a random page costs a quarter of the default's bytes;
//   - no automatic checkpoints in the writer: copying the WAL back into the
//     database would stall the commit every answer is waiting for. A
//     background connection runs PASSIVE checkpoints instead, on the other
//     core, never blocking the writer. Once the WAL is due for a restart
//     it syncs the database file after each (SQLite syncs it only when a
//     checkpoint reaches the end of the WAL, which under steady writes
//     only the writer's restart does: it then flushed every page copied
//     since, up to 450 ms of stall);
//   - a PASSIVE checkpoint cannot rewind a WAL that is still being written,
//     so once the WAL passes walRestartFrames, the writer itself runs a
//     RESTART checkpoint between two transactions, once the background
//     checkpoints have copied nearly all of it (walRestartDue): the pause
//     is short, and the WAL stays bounded.
//
// temp_store = MEMORY keeps the statement journals in memory. Each bulk
// upsert keeps one (the pages it changed, in case it must be undone) and
// SQLite spills any past 64 KiB to a temporary file in writes of a few
// hundred bytes: strace of go test -bench CommitBatch/sqlite counted 350
// such writes a batch, against 6 to the WAL.
//
// page_size only takes effect on a new database, so it is set before WAL
// mode.
var sqliteWriterPragmas = []string{
	"PRAGMA page_size = 1024",
	"PRAGMA journal_mode = WAL",
	"PRAGMA wal_autocheckpoint = 0",
	"PRAGMA temp_store = MEMORY",
}

const (
	checkpointEvery  = 2 * time.Second
	checkpointSoon   = 10 * time.Millisecond // while the WAL waits for a restart (walRestartDue)
	watchEvery       = time.Second
	walRestartFrames = 128 << 10 // 128 MiB of 1 KiB pages
)

// openSQLite opens the three pools of a SQLite database: the writer's
// single connection, the read API's, and the background checkpointer's.
func (db *DB) openSQLite(path string, opts Options) error {
	file := sqliteFile(path)
	if file != "" {
		if err := createPrivate(file, opts.Log); err != nil {
			return err
		}
	}
	var err error
	db.write, err = openSQLitePool(sqliteDSN(path, sqliteWriter, opts.WriterCacheKiB), sqliteWriterPragmas, 1)
	if err == nil {
		// The DSN sets it, so every connection the writer's pool opens
		// has the same.
		err = db.write.Raw("PRAGMA busy_timeout").Row().Scan(&db.busyMillis)
	}
	if err == nil {
		db.read, err = openSQLitePool(sqliteDSN(path, sqliteReader, 0), nil, opts.MaxOpenConns, prepared)
	}
	if err == nil {
		db.checkpoint, err = openSQLitePool(sqliteDSN(path, sqliteCheckpointer, 0), nil, 1)
	}
	if err == nil && file != "" {
		db.identity, err = fileIdentity(file)
	}
	if err == nil && file != "" {
		db.dbFile, err = os.Open(file)
	}
	db.file = file
	return err
}

// sqliteFile is the file a SQLite DSN names, or "" for one in memory.
func sqliteFile(dsn string) string {
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path == "" || path == ":memory:" || strings.Contains(query, "mode=memory") {
		return ""
	}
	return path
}

// createPrivate creates the database file readable by its owner alone
// (0600) when it does not exist: it holds phone numbers and message
// bodies, and SQLite gives its WAL and shared-memory files the database
// file's permissions. An existing file keeps its own, with a warning when
// others may read it.
func createPrivate(file string, log *slog.Logger) error {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		if st, err := os.Stat(file); err == nil && st.Mode().Perm()&0o077 != 0 && log != nil {
			log.Warn("sqlite: the database file may be read by others; it holds phone numbers and message bodies (chmod 600)",
				"file", file, "mode", st.Mode().Perm().String())
		}
		return nil
	default:
		return fmt.Errorf("store: create %s: %w", file, err)
	}
}

// fileIdentity is what tells one file from another at the same path.
func fileIdentity(file string) (string, error) {
	st, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", sys.Dev, sys.Ino), nil
	}
	return st.ModTime().String(), nil
}

// watchFile notes when the database file at the configured path is no
// longer the one the service opened: deleted (the service would go on
// writing into a file nobody can open again, answering 200 for events a
// restart loses) or replaced. From then on every write and readiness
// check fails, until a restart opens the file that is there.
func (db *DB) watchFile() {
	if db.file == "" || db.gone.Load() != nil {
		return
	}
	id, err := fileIdentity(db.file)
	var reason string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "the database file " + db.file + " was deleted while the service ran; restart buzzmirror (events answered since may be lost)"
	case err != nil:
		return // cannot tell; the next look may
	case id != db.identity:
		reason = "the database file " + db.file + " was replaced while the service ran; restart buzzmirror to open the new one"
	default:
		return
	}
	db.gone.Store(&reason)
	db.log.Log(context.Background(), slog.LevelError, "gone", "sqlite: "+reason)
}

// sqliteConnector opens go-sqlite3 connections that run pragmas first,
// without registering a driver name globally.
type sqliteConnector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c sqliteConnector) Driver() driver.Driver                        { return c.driver }

// openSQLitePool opens a pool on a SQLite database. It tries again, for as
// long as the busy timeout, while SQLite answers "database is locked":
// processes opening one new database together can meet in its switch to
// WAL, where SQLite refuses one of them at once instead of letting it wait
// (store.TestConcurrentMigrate met it now and then).
func openSQLitePool(dsn string, pragmas []string, maxConns int, opts ...func(*gorm.Config)) (*gorm.DB, error) {
	deadline := time.Now().Add(openRetryFor)
	for {
		d := sqliteDialector(dsn, pragmas...)
		g, err := openGorm(d, maxConns, opts...)
		if err == nil {
			return g, nil
		}
		d.Conn.(*sql.DB).Close()
		var se sqlite3.Error
		if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openRetryFor matches the busy timeout of every connection (sqliteDSN).
const openRetryFor = 10 * time.Second

func sqliteDialector(dsn string, pragmas ...string) sqlite.Dialector {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		if err := registerFuncs(conn); err != nil {
			return err
		}
		for _, p := range pragmas {
			if _, err := conn.Exec(p, nil); err != nil {
				return err
			}
		}
		return nil
	}}
	return sqlite.Dialector{Conn: sql.OpenDB(sqliteConnector{dsn: dsn, driver: drv})}
}

// registerFuncs gives a connection the functions the mirror's triggers
// call (grams.go).
func registerFuncs(conn *sqlite3.SQLiteConn) error {
	return conn.RegisterFunc(gramsFunc, grams, true)
}

// OpenSQLite opens a plain pool on the SQLite database at dsn (a go-sqlite3
// DSN), able to write the mirror's tables: for tests and tools that work
// beside the store.
func OpenSQLite(dsn string) (*sql.DB, error) {
	return sql.OpenDB(sqliteConnector{dsn: dsn, driver: &sqlite3.SQLiteDriver{ConnectHook: registerFuncs}}), nil
}

// runCheckpoints folds the WAL into the database file in the background
// until ctx ends, and notes how long the WAL is; and it watches that the
// database file is still the one opened.
func (db *DB) runCheckpoints(ctx context.Context) {
	t := time.NewTimer(checkpointEvery)
	defer t.Stop()
	var synced int64 // the frames copied when the file was last synced
	watch := time.NewTicker(watchEvery)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-watch.C:
			db.watchFile()
		case <-t.C:
			var r struct{ Busy, Log, Checkpointed int64 }
			db.checkpointing.Lock()
			err := db.checkpoint.WithContext(ctx).Raw("PRAGMA wal_checkpoint(PASSIVE)").Row().Scan(&r.Busy, &r.Log, &r.Checkpointed)
			if err == nil && r.Log >= walRestartFrames && r.Checkpointed != synced && db.dbFile != nil {
				// The WAL is due for a restart: what was copied is made
				// durable here, so that the writer's restart has only its
				// own copies to sync. (Until then the kernel writes the
				// pages back at its own pace: syncing after every
				// checkpoint cost ingest about a tenth of its p99 at half
				// the maximum rate.)
				err = db.dbFile.Sync()
				synced = r.Checkpointed
			}
			db.checkpointing.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					db.log.Log(ctx, slog.LevelWarn, "checkpoint", "sqlite: background checkpoint failed; the WAL grows until one succeeds", "err", err)
				}
				t.Reset(checkpointEvery)
				continue
			}
			db.log.Recovered(ctx, "checkpoint", "sqlite: background checkpoints succeed again")
			db.walFrames.Store(r.Log)
			db.walBehind.Store(r.Log - r.Checkpointed)
			if r.Log >= walRestartFrames {
				t.Reset(checkpointSoon)
			} else {
				t.Reset(checkpointEvery)
			}
		}
	}
}

// rewindWAL runs a RESTART checkpoint on the writer's connection once the
// WAL has grown past walRestartFrames, so the next transaction writes the
// WAL from its start again. Called after a commit, from the writer, which
// every delivery waits for, so it never waits itself: it runs only once
// the background checkpoints have copied nearly all of the WAL (little is
// left to copy), and with no busy timeout, so that a reader still using
// the WAL (a rebuild streaming the journal holds one snapshot for
// minutes) makes it give up at once and try after a later commit. While
// a background checkpoint runs it leaves it to the next commit too.
func (db *DB) rewindWAL(ctx context.Context) {
	if db.checkpoint == nil || !walRestartDue(db.walFrames.Load(), db.walBehind.Load()) || !db.checkpointing.TryLock() {
		return
	}
	defer db.checkpointing.Unlock()
	var r struct{ Busy, Log, Checkpointed int64 }
	err := db.write.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("PRAGMA busy_timeout = 0").Error; err != nil {
			return err
		}
		err := conn.Raw("PRAGMA wal_checkpoint(RESTART)").Row().Scan(&r.Busy, &r.Log, &r.Checkpointed)
		if restore := conn.Exec(db.busyPragma()).Error; restore != nil {
			return errors.Join(err, restore, driver.ErrBadConn) // drop a connection that would not wait
		}
		return err
	})
	switch {
	case err != nil && !isBusy(err):
		db.log.Log(ctx, slog.LevelWarn, "restart", "sqlite: WAL restart checkpoint failed", "err", err)
	case err == nil && r.Busy == 0:
		db.walFrames.Store(0)
		db.walBehind.Store(0)
	}
}

// walRestartDue reports whether the writer should restart a WAL of frames
// frames, behind of which the background checkpoints have not copied yet.
//
// What the restart copies, it syncs into the database file while every
// writer waits, at about 18 µs a page here. So once the WAL is long the
// background checkpoints run back to back (checkpointSoon), syncing as
// they go, each copying what was written during the one before, until
// fewer than walRestartBehind frames are left: the restart then pauses
// the writer for a few milliseconds (a retention sweep writing 18 MiB of
// WAL a second: restarts every 7 s, the longest sweep batch 68–112 ms, where
// restarting 16,384 frames behind and syncing everything the background
// had copied took up to 450 ms). Should they never get that close, the
// writer restarts with up to walRestartBehindMax left once the WAL is
// four times as long, to keep it bounded.
func walRestartDue(frames, behind int64) bool {
	return frames >= walRestartFrames && behind <= walRestartBehind ||
		frames >= 4*walRestartFrames && behind <= walRestartBehindMax
}

const (
	walRestartBehind    = 1 << 10
	walRestartBehindMax = 16 << 10
)

// sqliteTransaction runs fn in a transaction on the writer's connection,
// with synchronous=NORMAL for its commit unless durable.
func (db *DB) sqliteTransaction(ctx context.Context, durable bool, fn func(*gorm.DB) error) error {
	return db.write.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if durable {
			return db.lockedTransaction(ctx, conn, fn)
		}
		if err := conn.Exec("PRAGMA synchronous = NORMAL").Error; err != nil {
			return err
		}
		err := db.lockedTransaction(ctx, conn, fn)
		if restore := conn.Exec("PRAGMA synchronous = FULL").Error; restore != nil {
			// The connection must not go on writing loosely: drop it.
			return errors.Join(err, restore, driver.ErrBadConn)
		}
		return err
	})
}

// lockedTransaction begins an IMMEDIATE transaction on conn, trying for
// SQLite's write lock every millisecond while another process holds it
// (for as long as the busy timeout), runs fn in it and commits.
//
// SQLite's own busy handler sleeps longer and longer between its tries,
// 100 ms at a time after the first few, and gets the lock only when it
// happens to be free at one of them: a rebuild in another process,
// beginning its next transaction the moment it committed the last, kept
// the serving process's writer out for seconds at a time, and every
// delivery with it (on 1.3M events: p99 6.3 s, 11 deliveries a second of
// the 100 sent). Trying every millisecond, while such a bulk writer
// pauses between its transactions (Options.Yield), lets the two take
// turns.
func (db *DB) lockedTransaction(ctx context.Context, conn *gorm.DB, fn func(*gorm.DB) error) error {
	if db.yield > 0 {
		if wait := db.yield - time.Since(time.Unix(0, db.released.Load())); wait > 0 {
			time.Sleep(wait)
		}
		defer func() { db.released.Store(time.Now().UnixNano()) }()
	}
	if err := conn.Exec("PRAGMA busy_timeout = 1").Error; err != nil {
		return err
	}
	restore := db.busyPragma()
	deadline := time.Now().Add(time.Duration(db.busyMillis) * time.Millisecond)
	for {
		began := false
		err := conn.Transaction(func(g *gorm.DB) error {
			began = true
			// Inside, statements wait as long as any connection does.
			if err := g.Exec(restore).Error; err != nil {
				return err
			}
			return fn(g)
		})
		if began {
			return err
		}
		if !isBusy(err) || ctx.Err() != nil || time.Now().After(deadline) {
			if restoreErr := conn.Exec(restore).Error; restoreErr != nil {
				return errors.Join(err, restoreErr, driver.ErrBadConn) // drop a connection that would not wait
			}
			return err
		}
	}
}

// busyPragma is the statement that sets the writer's busy timeout back
// to what its DSN says.
func (db *DB) busyPragma() string { return fmt.Sprintf("PRAGMA busy_timeout = %d", db.busyMillis) }

// isBusy reports SQLite's "the database is busy" (a reader or writer in
// the way).
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// sqliteTransient reports whether err is SQLite's trouble rather than a
// refusal of the values a statement carried (a constraint, a trigger, a
// value too big or of the wrong kind).
func sqliteTransient(err error) (transient, known bool) {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false, false
	}
	switch se.Code {
	case sqlite3.ErrConstraint, sqlite3.ErrMismatch, sqlite3.ErrTooBig, sqlite3.ErrRange:
		return false, true
	}
	return true, true
}
