package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Tx is a write transaction over the journal and the mirror. Every write
// transaction first takes the next change-feed position from feed_clock;
// the row lock that takes is held until commit, so writers (on Postgres,
// across instances too) commit in the order of their positions and a reader
// of the change feed can never see position n+1 before n.
type Tx struct {
	g      *gorm.DB
	pipe   *pipe  // Postgres: statements waiting for the next round trip
	texts  *texts // the bulk statements, in this database's placeholders
	seq    int64  // -1 until the pipeline's first round trip answered
	now    models.Time
	err    error                        // a failure Seq could not return; fails the commit
	stored [tableSlots]map[string][]any // by table, what the database holds of the rows loaded (see storedKeys)
}

// storedKeys is what the transaction knows of the stored rows of a table,
// by id: the indexed values of each it loaded (see table), or nil for one
// it looked for and did not find. Every write transaction holds the
// feed_clock row lock from before its first read until it commits, so no
// other writer can store such a row meanwhile: it is inserted without
// ON CONFLICT.
func (tx *Tx) storedKeys(slot int) map[string][]any {
	if tx.stored[slot] == nil {
		tx.stored[slot] = map[string][]any{}
	}
	return tx.stored[slot]
}

// Forget drops what the transaction knows of the rows it loaded and wrote,
// so that a long one (a rebuild) does not keep that for every row of the
// mirror: a row written after is upserted whole, as one never loaded.
func (tx *Tx) Forget() { tx.stored = [tableSlots]map[string][]any{} }

const takeFeedPosition = "UPDATE feed_clock SET seq = seq + 1 WHERE id = 1 RETURNING seq"

// Write runs fn in one transaction and commits when fn returns nil.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	var err error
	if db.driver == DriverPostgres {
		err = db.writePipelined(ctx, fn)
	} else {
		err = db.write.WithContext(ctx).Transaction(func(g *gorm.DB) error {
			// SQLite's driver runs each statement whose context can end on
			// a goroutine of its own, to interrupt it; inside the
			// transaction nothing waits for a lock, so its statements run
			// on this one. The transaction still ends with ctx.
			g = g.WithContext(context.WithoutCancel(ctx))
			tx := &Tx{g: g, texts: &db.texts, now: models.NewTime(db.Now())}
			err := tx.query(takeFeedPosition, nil, func(scan func(...any) error) error { return scan(&tx.seq) })
			if err != nil {
				return unavailable(fmt.Errorf("store: take feed position: %w", err))
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
	if tx.seq < 0 {
		if err := tx.Sync(); err != nil && tx.err == nil {
			tx.err = err
		}
	}
	return tx.seq
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

// Now is the transaction's clock reading, used for receivedAt and syncedAt.
func (tx *Tx) Now() models.Time { return tx.now }

// SetEventOutcome records what became of a journaled event.
func (tx *Tx) SetEventOutcome(id string, status models.EventStatus, reason *string) error {
	err := tx.g.Model(&models.Event{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "error": reason}).Error
	if err != nil {
		return fmt.Errorf("store: set outcome of event %s: %w", id, err)
	}
	return nil
}

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

// LastMessageAt finds the newest createdAt among a conversation's stored
// messages, leaving out the ids in except (the caller knows better values
// for those).
func (tx *Tx) LastMessageAt(conversationID string, except []string) (*models.Time, error) {
	q := tx.g.Model(&models.Message{}).Select("MAX(created_at) AS last").Where("conversation_id = ?", conversationID)
	if len(except) > 0 {
		q = q.Where("id NOT IN ?", except)
	}
	var row struct{ Last *models.Time }
	if err := q.Scan(&row).Error; err != nil {
		return nil, fmt.Errorf("store: newest message of conversation %s: %w", conversationID, err)
	}
	return row.Last, nil
}

func formatNow(db *DB) string { return models.FormatTime(db.Now()) }

// InsertEvents journals rows in bulk and returns the ids it inserted; an id
// already stored, in the journal or earlier in rows, is skipped.
func (tx *Tx) InsertEvents(rows []models.Event) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	for start, n := range chunks(len(rows)) {
		args := make([]any, 0, n*len(eventColumns))
		for i := range rows[start : start+n] {
			args = eventValues(&rows[start+i], args)
		}
		err := tx.query(tx.texts.text(insertEvents, n), args, func(scan func(...any) error) error {
			var id string
			if err := scan(&id); err != nil {
				return err
			}
			inserted[id] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: insert %d events: %w", n, err)
		}
	}
	if err := tx.Sync(); err != nil {
		return nil, fmt.Errorf("store: insert %d events: %w", len(rows), err)
	}
	return inserted, nil
}
