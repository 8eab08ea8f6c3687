package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Tx is a write transaction. One begun by Write may change the mirror: it
// first takes the next change-feed position from feed_clock, and the row
// lock that takes is held until commit, so mirror writers (on Postgres,
// across instances too) commit in the order of their positions and a
// reader of the change feed can never see position n+1 before n. The same
// statement reads the projector lease's epoch, so a projector that lost
// its lease finds out before it writes anything.
//
// One begun by WriteJournal only journals: it takes no position, so
// deliveries never queue behind the mirror's writers (on Postgres; SQLite
// has one writer at a time whatever the transaction does).
type Tx struct {
	g      *gorm.DB
	pipe   *pipe  // Postgres: statements waiting for the next round trip
	texts  *texts // the bulk statements, in this database's placeholders
	feed   bool   // a mirror writer, holding the feed_clock row
	seq    int64  // -1 until the pipeline's first round trip answered
	epoch  int64
	now    models.Time
	err    error                            // a failure Seq could not return; fails the commit
	stored [2 * tableSlots]map[string][]any // by table, what the database holds of the rows loaded (see storedKeys)
}

// storedKeys is what the transaction knows of the stored rows of a table,
// by id: the indexed values of each it loaded (see table), or nil for one
// it looked for and did not find. Every mirror writer holds the feed_clock
// row lock from before its first read until it commits, so no other
// writer can store such a row meanwhile: it is inserted without
// ON CONFLICT.
func (tx *Tx) storedKeys(slot int) map[string][]any {
	if tx.stored[slot] == nil {
		tx.stored[slot] = map[string][]any{}
	}
	return tx.stored[slot]
}

// Forget drops what the transaction knows of the rows it loaded and wrote,
// so that a long one does not keep that for every row it touched: a row
// written after is upserted whole, as one never loaded.
func (tx *Tx) Forget() { tx.stored = [2 * tableSlots]map[string][]any{} }

const takeFeedPosition = "UPDATE feed_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq, lease_epoch"

// Write runs fn in one mirror-writing transaction and commits when fn
// returns nil.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.transact(ctx, true, true, fn)
}

// WriteLoose is Write for work that can be done again: its commit does
// not wait for the disk (SQLite synchronous=NORMAL, Postgres
// synchronous_commit off), so a power loss may undo it, but never leaves
// the database inconsistent; a later durable commit makes it durable too.
// A rebuild fills its shadow tables so.
func (db *DB) WriteLoose(ctx context.Context, fn func(*Tx) error) error {
	return db.transact(ctx, true, false, fn)
}

// WriteJournal runs fn in one transaction that only journals (see Tx).
func (db *DB) WriteJournal(ctx context.Context, fn func(*Tx) error) error {
	return db.transact(ctx, false, true, fn)
}

func (db *DB) transact(ctx context.Context, feed, durable bool, fn func(*Tx) error) (err error) {
	if err := db.goneErr(); err != nil {
		return err
	}
	defer func() { db.noteCommit(err) }()
	if db.driver == DriverPostgres {
		err = db.writePipelined(ctx, feed, durable, fn)
	} else {
		err = db.sqliteTransaction(ctx, durable, func(g *gorm.DB) error {
			// SQLite's driver runs each statement whose context can end on
			// a goroutine of its own, to interrupt it; inside the
			// transaction nothing waits for a lock, so its statements run
			// on this one. The transaction still ends with ctx.
			g = g.WithContext(context.WithoutCancel(ctx))
			tx := &Tx{g: g, texts: &db.texts, now: models.NewTime(db.Now()), feed: feed, seq: -1}
			if feed {
				err := tx.query(takeFeedPosition, nil, func(scan func(...any) error) error { return scan(&tx.seq, &tx.epoch) })
				if err != nil {
					return unavailable(fmt.Errorf("store: take feed position: %w", err))
				}
			}
			return fn(tx)
		})
	}
	if err != nil && !isOwnError(err) {
		return unavailable(err)
	}
	if err == nil {
		db.rewindWAL(ctx)
	}
	return err
}

// writeStatements runs fn's statements on the writer in one transaction:
// on SQLite through lockedTransaction, so that they take their turn with
// other processes' writers like every transaction does.
func (db *DB) writeStatements(ctx context.Context, fn func(*gorm.DB) error) error {
	if db.driver == DriverSQLite {
		return db.sqliteTransaction(ctx, true, fn)
	}
	return db.write.WithContext(ctx).Transaction(fn)
}

// isOwnError reports errors fn returns on purpose (not database failures).
func isOwnError(err error) bool {
	var own ownError
	return errors.As(err, &own)
}

// ownError lets a Write callback abort the transaction with an error that is
// not a storage failure.
type ownError struct{ err error }

func (e ownError) Error() string { return e.err.Error() }
func (e ownError) Unwrap() error { return e.err }

// Abort wraps err so that Write returns it unchanged instead of reporting the
// database unavailable.
func Abort(err error) error { return ownError{err} }

// Aborted reports whether err came from a Write callback through Abort.
func Aborted(err error) bool { return isOwnError(err) }

// Seq is this transaction's change-feed position.
func (tx *Tx) Seq() int64 {
	if !tx.feed {
		panic("store: a journal transaction has no change-feed position")
	}
	if tx.seq < 0 {
		if err := tx.Sync(); err != nil && tx.err == nil {
			tx.err = err
		}
	}
	return tx.seq
}

// LeaseEpoch is the projector lease's epoch as this transaction locked
// the feed_clock row: no other writer can change it before the commit.
func (tx *Tx) LeaseEpoch() (int64, error) {
	if tx.seq < 0 {
		tx.Seq()
	}
	return tx.epoch, tx.err
}

// Sync runs the statements waiting for the next round trip, so that their
// errors surface now. On SQLite nothing waits.
func (tx *Tx) Sync() error {
	if tx.pipe == nil {
		return nil
	}
	if err := tx.pipe.send(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// exec runs a statement whose answer only says whether it failed, or on
// Postgres queues it for the next round trip.
func (tx *Tx) exec(query string, args []any) error {
	if tx.pipe != nil {
		tx.pipe.queue(pipedStmt{sql: query, args: args})
		return nil
	}
	_, err := tx.g.Statement.ConnPool.ExecContext(tx.g.Statement.Context, query, args...)
	return err
}

// rowScanner is what database/sql's and pgx's rows have in common.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// query runs a statement and hands each row it answers to row, which
// scans it. On Postgres the statement is queued, and row runs when the
// next round trip answers (Sync sends it now).
func (tx *Tx) query(query string, args []any, row func(scan func(...any) error) error) error {
	if tx.pipe != nil {
		tx.pipe.queue(pipedStmt{sql: query, args: args, read: func(rows pgx.Rows) error { return eachRow(rows, row) }})
		return nil
	}
	rows, err := tx.g.Statement.ConnPool.QueryContext(tx.g.Statement.Context, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows, row)
}

func eachRow(rows rowScanner, row func(scan func(...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Now is the transaction's clock reading, used for syncedAt.
func (tx *Tx) Now() models.Time { return tx.now }

// Savepoint runs fn so that, when it fails, only its own writes are undone
// and the transaction goes on.
func (tx *Tx) Savepoint(name string, fn func() error) error {
	if err := tx.g.SavePoint(name).Error; err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	err := fn()
	if err == nil {
		err = tx.Sync() // what fn queued must fail here, if at all
	}
	if err != nil {
		// The rows fn wrote are back as they were; forget what it learnt.
		tx.Forget()
		if rbErr := tx.g.RollbackTo(name).Error; rbErr != nil {
			return fmt.Errorf("store: rollback to savepoint: %w (after %w)", rbErr, err)
		}
		return err
	}
	return nil
}

func formatNow(db *DB) string { return models.FormatTime(db.Now()) }

// ReadSnapshot runs fn in a read-only transaction on the read pool, so
// that it never holds up a writer: a Tx whose Live mirror loads rows as
// a mirror writer would, and whose FeedSeq says where the change feed
// stood in that snapshot. A projector plans its writes so, and commits
// them with Adopt when no mirror writer came between.
//
// On Postgres it runs on the write pool, pipelined like a write: its
// loads are the writer's, prepared on sessions that plan without table
// scans (see postgresDSN), and they go in one round trip.
func (db *DB) ReadSnapshot(ctx context.Context, fn func(*Tx) error) error {
	snapshot := func(tx *Tx) error {
		err := tx.query("SELECT seq, lease_epoch FROM feed_clock WHERE id = 1", nil, func(scan func(...any) error) error {
			return scan(&tx.seq, &tx.epoch)
		})
		if err == nil {
			err = tx.Sync()
		}
		if err != nil {
			return fmt.Errorf("store: read feed position: %w", err)
		}
		return fn(tx)
	}
	if db.driver == DriverPostgres {
		err := db.pipelined(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", false, snapshot)
		if err != nil && !isOwnError(err) {
			return unavailable(err)
		}
		return err
	}
	return db.readTx(ctx, func(g *gorm.DB) error {
		return snapshot(&Tx{g: g, texts: &db.texts, now: models.NewTime(db.Now()), seq: -1})
	})
}

// FeedSeq is the last change-feed position handed out as of a
// ReadSnapshot's snapshot.
func (tx *Tx) FeedSeq() int64 { return tx.seq }

// Adopt takes over what a ReadSnapshot learnt of the mirror's rows, which
// holds in this transaction when no mirror writer committed in between
// (this one's position is the snapshot's next).
func (tx *Tx) Adopt(snapshot *Tx) { tx.stored = snapshot.stored }
