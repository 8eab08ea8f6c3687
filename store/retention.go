package store

import (
	"context"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
)

// The retention sweep's reads and writes (see sync.Sweeper).

// MessageEventsBefore reads, oldest first, up to limit message events
// dated after the position after and before cutoff, not erased: the
// retention sweep's next batch.
func (db *DB) MessageEventsBefore(ctx context.Context, after Key, cutoff models.Time, limit int) ([]models.Event, error) {
	var out []models.Event
	err := db.read.WithContext(ctx).Raw(db.sweepQuery(), after.At, after.ID, timeValue(cutoff), limit).Scan(&out).Error
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: read message events to sweep: %w", err))
	}
	return out, nil
}

// sweepQuery walks the journal by createdAt. SQLite is told to: left to
// itself it took the index by type, reading every message event and
// sorting them for each batch of 200 (60 events a second on 1M messages).
func (db *DB) sweepQuery() string {
	index := ""
	if db.driver == DriverSQLite {
		index = " INDEXED BY events_created"
	}
	return "SELECT id, type, status, error, created_at, received_at, payload FROM events" + index + " " +
		"WHERE (created_at, id) > (?, ?) AND created_at < ? AND type IN ('message.received', 'message.sent', 'message.failed') " +
		"AND status <> 'erased' ORDER BY created_at, id LIMIT ?"
}

// SetPayload replaces a journaled event's payload, unless it was erased
// meanwhile (an erasure keeps none).
func (tx *Tx) SetPayload(id string, payload []byte) error {
	if err := tx.exec(tx.texts.rebind("UPDATE events SET payload = ? WHERE id = ? AND status <> 'erased'"), []any{payload, id}); err != nil {
		return fmt.Errorf("store: rewrite event %s: %w", id, err)
	}
	return nil
}

// MessageBodyVersions reads the version of the body of the messages ids
// that have one.
func (tx *Tx) MessageBodyVersions(ids []string) (map[string]string, error) {
	out := map[string]string{}
	q := tx.texts.rebind("SELECT id, versions FROM messages WHERE body IS NOT NULL AND " + inList(tx.texts.postgres, "id"))
	err := tx.query(q, []any{jsonList(ids)}, func(scan func(...any) error) error {
		var id string
		var vs models.Versions
		if err := scan(&id, &vs); err != nil {
			return err
		}
		out[id] = vs["body"]
		return nil
	})
	if err == nil {
		err = tx.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("store: read message bodies: %w", err)
	}
	return out, nil
}

// ClearMessageBody empties a message's body, as a change the feed lists.
func (tx *Tx) ClearMessageBody(id string) error {
	err := tx.exec(tx.texts.rebind("UPDATE messages SET body = NULL, search = NULL, seq = ?, synced_at = ? WHERE id = ?"),
		[]any{tx.Seq(), timeValue(tx.now), id})
	if err != nil {
		return fmt.Errorf("store: clear body of message %s: %w", id, err)
	}
	return nil
}

// SweptUntil and MarkSwept keep how far the retention sweep got.
func (db *DB) SweptUntil(ctx context.Context) (models.Time, error) {
	_, marks, err := db.Counters(ctx)
	if err != nil || marks[markSwept] == nil {
		return models.Time{}, err
	}
	return *marks[markSwept], nil
}

// MarkSwept records that the sweep got to at.
func (tx *Tx) MarkSwept(at models.Time) error {
	v := timeValue(at)
	return tx.exec(tx.texts.rebind("UPDATE counters SET at = ? WHERE name = ? AND (at IS NULL OR at < ?)"), []any{v, markSwept, v})
}

const markSwept = "retention.swept"
