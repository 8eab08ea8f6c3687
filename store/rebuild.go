package store

import (
	"context"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
)

// ClearMirror deletes every mirror row, leaving the journal alone.
func (tx *Tx) ClearMirror() error {
	for _, table := range []string{"contact_tags", "contacts", "conversations", "messages", "workflow_runs"} {
		if err := tx.g.Exec("DELETE FROM " + table).Error; err != nil {
			return fmt.Errorf("store: clear %s: %w", table, err)
		}
	}
	return nil
}

// EachEvent calls fn with every journaled event in the order they were
// received, batch rows at a time so memory stays flat. (The projection does
// not depend on the order; receipt order walks an index every list already
// needs.)
func (tx *Tx) EachEvent(batch int, fn func([]models.Event) error) error {
	var after *models.Event
	for {
		q := tx.g.Order("received_at, id").Limit(batch)
		if after != nil {
			q = q.Where("(received_at, id) > (?, ?)", after.ReceivedAt, after.ID)
		}
		var page []models.Event
		if err := q.Find(&page).Error; err != nil {
			return fmt.Errorf("store: read journal: %w", err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < batch {
			return nil
		}
		after = &page[len(page)-1]
	}
}

// CountEvents counts the journal's rows.
func (db *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.WithContext(ctx).Model(&models.Event{}).Count(&n).Error; err != nil {
		return 0, unavailable(fmt.Errorf("store: count events: %w", err))
	}
	return n, nil
}
