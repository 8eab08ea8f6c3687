package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/buzzmirror/buzzmirror/models"
)

// Tx is a write transaction over the journal and the mirror. Every write
// transaction first takes the next change-feed position from feed_clock;
// the row lock that takes is held until commit, so writers (on Postgres,
// across instances too) commit in the order of their positions and a reader
// of the change feed can never see position n+1 before n.
type Tx struct {
	g    *gorm.DB
	pipe *pipe // Postgres: statements waiting for the next round trip
	seq  int64 // -1 until the pipeline's first round trip answered
	now  models.Time
	err  error // a failure Seq could not return; fails the commit
}

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
			tx := &Tx{g: g, now: models.NewTime(db.Now())}
			if err := g.Raw(takeFeedPosition).Scan(&tx.seq).Error; err != nil {
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

// later runs the statement build makes of g, or on Postgres queues it for
// the next round trip.
func (tx *Tx) later(build func(g *gorm.DB) *gorm.DB) error {
	if tx.pipe == nil {
		return build(tx.g).Error
	}
	return tx.queue(build, nil)
}

// queue has GORM build a statement as a dry run and queues it on the
// Postgres pipeline; read, if not nil, gets its rows when it has run.
func (tx *Tx) queue(build func(g *gorm.DB) *gorm.DB, read func(*gorm.Statement, pgx.Rows) error) error {
	dry := build(tx.g.Session(&gorm.Session{DryRun: true}))
	if dry.Error != nil {
		return dry.Error
	}
	st := dry.Statement
	s := pipedStmt{sql: st.SQL.String(), args: st.Vars}
	if read != nil {
		s.read = func(rows pgx.Rows) error { return read(st, rows) }
	}
	tx.pipe.queue(s)
	return nil
}

// Now is the transaction's clock reading, used for receivedAt and syncedAt.
func (tx *Tx) Now() models.Time { return tx.now }

// InsertEvent journals e and reports false, writing nothing, when its id is
// already stored. The unique key decides, never a prior check, so of several
// concurrent copies exactly one is inserted.
func (tx *Tx) InsertEvent(e *models.Event) (bool, error) {
	res := tx.g.Clauses(clause.OnConflict{DoNothing: true}).Create(e)
	if res.Error != nil {
		return false, fmt.Errorf("store: insert event %s: %w", e.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

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

// insertChunk is how many journal rows one INSERT carries: seven parameters
// each stays far below both databases' limits.
const insertChunk = 500

// InsertEvents journals rows in bulk and returns the ids it inserted; an id
// already stored, in the journal or earlier in rows, is skipped.
func (tx *Tx) InsertEvents(rows []models.Event) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		var sql strings.Builder
		sql.WriteString("INSERT INTO events (id, type, status, error, created_at, received_at, payload) VALUES ")
		args := make([]any, 0, 7*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.ID, e.Type, e.Status, e.Error, e.CreatedAt, e.ReceivedAt, e.Payload)
		}
		sql.WriteString(" ON CONFLICT (id) DO NOTHING RETURNING id")
		ids, err := tx.textColumn(sql.String(), args)
		if err != nil {
			return nil, fmt.Errorf("store: insert %d events: %w", len(chunk), err)
		}
		for _, id := range ids {
			inserted[id] = true
		}
	}
	return inserted, nil
}

// textColumn runs a statement that answers one text column, on Postgres in one
// round trip with whatever is queued.
func (tx *Tx) textColumn(query string, args []any) ([]string, error) {
	var out []string
	if tx.pipe == nil {
		err := tx.g.Raw(query, args...).Scan(&out).Error
		return out, err
	}
	err := tx.queue(func(g *gorm.DB) *gorm.DB { return g.Raw(query, args...) },
		func(_ *gorm.Statement, rows pgx.Rows) (err error) {
			out, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
	if err == nil {
		err = tx.pipe.send()
	}
	return out, err
}
