package store

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/buzzmirror/buzzmirror/models"
)

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

// PendingEvents reads up to limit journaled events that wait for the
// projector, oldest receipt first. Inside a mirror writer (Write) no other
// projector can take them meanwhile.
func (tx *Tx) PendingEvents(limit int) ([]models.Event, error) {
	var out []models.Event
	q := "SELECT id, type, status, error, created_at, received_at, payload FROM events WHERE status = 'pending' ORDER BY received_at, id LIMIT " +
		fmt.Sprint(limit)
	err := tx.query(q, nil, func(scan func(...any) error) error {
		var e models.Event
		if err := scan(&e.ID, &e.Type, &e.Status, &e.Error, &e.CreatedAt, &e.ReceivedAt, &e.Payload); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err == nil {
		err = tx.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("store: read pending events: %w", err)
	}
	return out, nil
}

// MarkApplied records that the projector applied the events ids.
func (tx *Tx) MarkApplied(ids []string) error {
	for start, n := range chunks(len(ids)) {
		args := make([]any, n)
		for i, id := range ids[start : start+n] {
			args[i] = id
		}
		if err := tx.exec(tx.texts.text(markApplied, n), args); err != nil {
			return fmt.Errorf("store: mark %d events applied: %w", n, err)
		}
	}
	return nil
}

// SetEventOutcome records what became of a journaled event.
func (tx *Tx) SetEventOutcome(id string, status models.EventStatus, reason *string) error {
	err := tx.exec(tx.texts.rebind("UPDATE events SET status = ?, error = ? WHERE id = ?"), []any{string(status), orNull(reason), id})
	if err != nil {
		return fmt.Errorf("store: set outcome of event %s: %w", id, err)
	}
	return nil
}

// Counter names, as the counters table keeps them.
const (
	CountContacts       = "contacts"
	CountWorkflowRuns   = "workflowRuns"
	countEventsPrefix   = "events."
	markLastCreatedAt   = "events.lastCreatedAt"
	markLastReceivedAt  = "events.lastReceivedAt"
	countConvPrefix     = "conversations."
	countMessagesPrefix = "messages."
)

// EventCount names the counter of journaled events with status s.
func EventCount(s models.EventStatus) string { return countEventsPrefix + string(s) }

// ConversationCount names the counter of conversations with status s.
func ConversationCount(status string) string { return countConvPrefix + status }

// MessageCount names the counter of messages with status s.
func MessageCount(status string) string { return countMessagesPrefix + status }

// Counts are changes to the counters, by name.
type Counts map[string]int64

// Add adds n to the counter name.
func (c Counts) Add(name string, n int64) {
	if n != 0 {
		c[name] += n
	}
}

// AddCounts applies the changes in c. Counters are updated in the order
// of their names, so that two transactions never wait for each other's
// rows in opposite orders.
func (tx *Tx) AddCounts(c Counts) error {
	for _, name := range slices.Sorted(maps.Keys(c)) {
		if c[name] == 0 {
			continue
		}
		if err := tx.exec(tx.texts.rebind("UPDATE counters SET n = n + ? WHERE name = ?"), []any{c[name], name}); err != nil {
			return fmt.Errorf("store: count %s: %w", name, err)
		}
	}
	return nil
}

// MarkEventTimes raises the marks of the newest createdAt and receipt in
// the journal to these, when they are newer.
func (tx *Tx) MarkEventTimes(created, received models.Time) error {
	for name, at := range map[string]models.Time{markLastCreatedAt: created, markLastReceivedAt: received} {
		v := timeValue(at)
		err := tx.exec(tx.texts.rebind("UPDATE counters SET at = ? WHERE name = ? AND (at IS NULL OR at < ?)"), []any{v, name, v})
		if err != nil {
			return fmt.Errorf("store: mark %s: %w", name, err)
		}
	}
	return nil
}

// SetCounts sets the counters in c to its values.
func (tx *Tx) SetCounts(c Counts) error {
	for _, name := range slices.Sorted(maps.Keys(c)) {
		if err := tx.exec(tx.texts.rebind("UPDATE counters SET n = ? WHERE name = ?"), []any{c[name], name}); err != nil {
			return fmt.Errorf("store: set count %s: %w", name, err)
		}
	}
	return nil
}

// EventStatuses reads the journal status of the events ids; an id not
// journaled is absent from the answer.
func (tx *Tx) EventStatuses(ids []string) (map[string]models.EventStatus, error) {
	out := make(map[string]models.EventStatus, len(ids))
	for start, n := range chunks(len(ids)) {
		args := make([]any, n)
		for i, id := range ids[start : start+n] {
			args[i] = id
		}
		err := tx.query(tx.texts.text(eventStatuses, n), args, func(scan func(...any) error) error {
			var id, status string
			if err := scan(&id, &status); err != nil {
				return err
			}
			out[id] = models.EventStatus(status)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: read status of %d events: %w", n, err)
		}
	}
	if err := tx.Sync(); err != nil {
		return nil, fmt.Errorf("store: read status of %d events: %w", len(ids), err)
	}
	return out, nil
}

var eventStatuses = &shape{head: "SELECT id, status FROM events WHERE id IN (", tail: ")"}

// Counters reads every counter and mark, in one statement.
func (db *DB) Counters(ctx context.Context) (map[string]int64, map[string]*models.Time, error) {
	var rows []struct {
		Name string
		N    int64
		At   *models.Time
	}
	if err := db.read.WithContext(ctx).Raw("SELECT name, n, at FROM counters").Scan(&rows).Error; err != nil {
		return nil, nil, unavailable(fmt.Errorf("store: read counters: %w", err))
	}
	counts, marks := map[string]int64{}, map[string]*models.Time{}
	for _, r := range rows {
		counts[r.Name], marks[r.Name] = r.N, r.At
	}
	return counts, marks, nil
}

// OldestPending is the receipt time of the oldest event waiting for the
// projector, or nil when none waits. It reads one entry of events_status.
func (db *DB) OldestPending(ctx context.Context) (*models.Time, error) {
	var e []models.Event
	err := db.read.WithContext(ctx).Model(&models.Event{}).Select("received_at").
		Where("status = ?", models.EventPending).Order("received_at, id").Limit(1).Find(&e).Error
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: oldest pending event: %w", err))
	}
	if len(e) == 0 {
		return nil, nil
	}
	return &e[0].ReceivedAt, nil
}
