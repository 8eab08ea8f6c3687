package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Refs are mirror rows by kind (the FeedKinds) and id: what an event
// names, or what an erasure removes.
type Refs map[string]map[string]bool

// Add adds the row kind/id.
func (r Refs) Add(kind, id string) {
	if r[kind] == nil {
		r[kind] = map[string]bool{}
	}
	r[kind][id] = true
}

// Has reports whether r holds kind/id.
func (r Refs) Has(kind, id string) bool { return r[kind][id] }

// Merge adds every row of o.
func (r Refs) Merge(o Refs) {
	for kind, ids := range o {
		for id := range ids {
			r.Add(kind, id)
		}
	}
}

// Len is the number of rows.
func (r Refs) Len() int {
	n := 0
	for _, ids := range r {
		n += len(ids)
	}
	return n
}

// IDs lists the ids of one kind, sorted.
func (r Refs) IDs(kind string) []string { return slices.Sorted(maps.Keys(r[kind])) }

// payloadField is the SQL of a top-level data field of a journaled event,
// as text; NULL for an erased event, whose payload is empty.
func (db *DB) payloadField(field string) string {
	if db.driver == DriverPostgres {
		return "(CASE WHEN status <> 'erased' THEN convert_from(payload, 'UTF8')::jsonb -> 'data' ->> '" + field + "' END)"
	}
	return "(CASE WHEN status <> 'erased' THEN json_extract(CAST(payload AS TEXT), '$.data." + field + "') END)"
}

// inList is SQL matching expr against a JSON array of strings given as
// one parameter: one statement text whatever the number of ids.
func inList(postgres bool, expr string) string {
	if postgres {
		return expr + " IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb)))"
	}
	return expr + " IN (SELECT value FROM json_each(?))"
}

func jsonList(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// EventsNaming reads, in one snapshot, the journaled events not erased
// and dated at or before until whose data names a row of r (contactId,
// conversationId, messageId, and for workflow runs runId or the event's
// own id). It reads the whole journal: erasure is rare, and an index for
// it would cost every delivery.
func (db *DB) EventsNaming(ctx context.Context, r Refs, until models.Time) ([]models.Event, error) {
	conds := []string{
		inList(db.driver == DriverPostgres, db.payloadField("contactId")),
		inList(db.driver == DriverPostgres, db.payloadField("conversationId")),
		inList(db.driver == DriverPostgres, db.payloadField("messageId")),
		inList(db.driver == DriverPostgres, db.payloadField("runId")),
		"(type = 'workflow.triggered' AND " + inList(db.driver == DriverPostgres, "id") + ")",
	}
	args := []any{timeValue(until), jsonList(r.IDs(KindContact)), jsonList(r.IDs(KindConversation)), jsonList(r.IDs(KindMessage)),
		jsonList(r.IDs(KindWorkflowRun)), jsonList(r.IDs(KindWorkflowRun))}
	q := "SELECT id, type, status, error, created_at, received_at, payload FROM events WHERE status <> 'erased' AND created_at <= ? AND (" +
		strings.Join(conds, " OR ") + ")"
	var out []models.Event
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		return tx.Raw(q, args...).Scan(&out).Error
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: find events naming %d rows: %w", r.Len(), err))
	}
	return out, nil
}

// RowsOfContact lists the conversations, messages and workflow runs the
// mirror shows with contactId id.
func (db *DB) RowsOfContact(ctx context.Context, id string) (Refs, error) {
	r := Refs{}
	for _, kind := range []string{KindConversation, KindMessage, KindWorkflowRun} {
		var ids []string
		if err := db.read.WithContext(ctx).Table(feedTables[kind]).Where("contact_id = ?", id).Pluck("id", &ids).Error; err != nil {
			return nil, unavailable(fmt.Errorf("store: rows of contact %s: %w", id, err))
		}
		for _, rowID := range ids {
			r.Add(kind, rowID)
		}
	}
	return r, nil
}

// RecordErasures keeps the rows of r as erased at at (a later erasure of
// the same row moves its time forward). On Postgres it first waits for
// every journal transaction in flight (see LockErasuresShared), so that
// each delivery either committed before the erasures or sees them.
func (tx *Tx) RecordErasures(r Refs, at models.Time) error {
	if tx.pipe != nil {
		if err := tx.exec("SELECT pg_advisory_xact_lock($1)", []any{erasureLock}); err != nil {
			return err
		}
	}
	for _, kind := range FeedKinds {
		for _, id := range r.IDs(kind) {
			err := tx.exec(tx.texts.rebind("INSERT INTO erasures (kind, id, erased_at) VALUES (?, ?, ?) "+
				"ON CONFLICT (id, kind) DO UPDATE SET erased_at = excluded.erased_at WHERE erasures.erased_at < excluded.erased_at"),
				[]any{kind, id, timeValue(at)})
			if err != nil {
				return fmt.Errorf("store: record erasure of %s %s: %w", kind, id, err)
			}
		}
	}
	return tx.Sync()
}

// erasureLock is the Postgres advisory lock between journal writers
// (shared) and an erasure recording its rows (exclusive).
const erasureLock = 0x6275_7a7a_6572_6173 // "buzzeras"

// LockErasuresShared makes a journal transaction on Postgres wait while an
// erasure records its rows, and an erasure wait for it; on SQLite the
// single writer already orders them.
func (tx *Tx) LockErasuresShared() error {
	if tx.pipe == nil {
		return nil
	}
	return tx.exec("SELECT pg_advisory_xact_lock_shared($1)", []any{erasureLock})
}

// ErasedAmong returns, of the rows r, those erased, with the time of
// their erasure.
func (tx *Tx) ErasedAmong(r Refs) (map[string]map[string]models.Time, error) {
	out := map[string]map[string]models.Time{}
	var ids []string
	for _, kind := range FeedKinds {
		ids = append(ids, r.IDs(kind)...)
	}
	if len(ids) == 0 {
		return out, nil
	}
	q := tx.texts.rebind("SELECT kind, id, erased_at FROM erasures WHERE " + inList(tx.texts.postgres, "id"))
	err := tx.query(q, []any{jsonList(ids)}, func(scan func(...any) error) error {
		var kind, id string
		var at models.Time
		if err := scan(&kind, &id, &at); err != nil {
			return err
		}
		if r.Has(kind, id) {
			if out[kind] == nil {
				out[kind] = map[string]models.Time{}
			}
			out[kind][id] = at
		}
		return nil
	})
	if err == nil {
		err = tx.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("store: read erasures: %w", err)
	}
	return out, nil
}

// EraseEvents keeps of the events ids only their id, type and times, with
// status erased, and returns the counter changes.
func (tx *Tx) EraseEvents(ids []string) (Counts, error) {
	was, err := tx.EventStatuses(ids)
	if err != nil {
		return nil, err
	}
	counts := Counts{}
	for _, id := range ids {
		status, ok := was[id]
		if !ok || status == models.EventErased {
			continue
		}
		if err := tx.exec(tx.texts.rebind("UPDATE events SET status = 'erased', error = NULL, payload = ? WHERE id = ?"), []any{[]byte{}, id}); err != nil {
			return nil, fmt.Errorf("store: erase event %s: %w", id, err)
		}
		counts.Add(EventCount(status), -1)
		counts.Add(EventCount(models.EventErased), 1)
	}
	return counts, tx.Sync()
}

// DeleteRows removes the rows r from the live mirror and returns the
// counter changes. The change feed learns of it from RecordDeletions.
func (tx *Tx) DeleteRows(r Refs) (Counts, error) {
	counts := Counts{}
	for _, kind := range FeedKinds {
		table := feedTables[kind]
		for _, id := range r.IDs(kind) {
			if kind == KindContact {
				if err := tx.exec(tx.texts.rebind("DELETE FROM contact_tags WHERE contact_id = ?"), []any{id}); err != nil {
					return nil, fmt.Errorf("store: delete tags of %s: %w", id, err)
				}
			}
			returning := "id"
			if kind == KindConversation || kind == KindMessage {
				returning = "status"
			}
			err := tx.query(tx.texts.rebind("DELETE FROM "+table+" WHERE id = ? RETURNING "+returning), []any{id}, func(scan func(...any) error) error {
				var v string
				if err := scan(&v); err != nil {
					return err
				}
				switch kind {
				case KindContact:
					counts.Add(CountContacts, -1)
				case KindWorkflowRun:
					counts.Add(CountWorkflowRuns, -1)
				case KindConversation:
					counts.Add(ConversationCount(v), -1)
				case KindMessage:
					counts.Add(MessageCount(v), -1)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("store: delete %s %s: %w", kind, id, err)
			}
		}
	}
	return counts, tx.Sync()
}

// Existing returns the rows of r the live mirror holds.
func (tx *Tx) Existing(r Refs) (Refs, error) {
	out := Refs{}
	for _, kind := range FeedKinds {
		ids := r.IDs(kind)
		if len(ids) == 0 {
			continue
		}
		q := tx.texts.rebind("SELECT id FROM " + feedTables[kind] + " WHERE " + inList(tx.texts.postgres, "id"))
		err := tx.query(q, []any{jsonList(ids)}, func(scan func(...any) error) error {
			var id string
			if err := scan(&id); err != nil {
				return err
			}
			out.Add(kind, id)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: read %s rows: %w", kind, err)
		}
	}
	return out, tx.Sync()
}
