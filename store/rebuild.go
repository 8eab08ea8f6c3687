package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

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
// needs.) It reads from a snapshot of its own, on a connection other than
// the writer's, so that a rebuild can read and decode the journal while its
// transaction writes the mirror: begun inside a write transaction, which
// holds the writers' lock (feed_clock), the snapshot holds every event the
// transaction would see, and the journal's rows change only by the
// outcomes the rebuild itself records.
func (db *DB) EachEvent(ctx context.Context, batch int, fn func([]models.Event) error) error {
	var fnErr error // returned as it is, not as a storage failure
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		var after *models.Event
		for {
			q := tx.Model(&models.Event{}).Order("received_at, id").Limit(batch)
			if after != nil {
				q = q.Where("(received_at, id) > (?, ?)", after.ReceivedAt, after.ID)
			}
			page, err := findAll[models.Event](q, batch)
			if err != nil {
				return fmt.Errorf("store: read journal: %w", err)
			}
			if len(page) > 0 {
				if fnErr = fn(page); fnErr != nil {
					return fnErr
				}
			}
			if len(page) < batch {
				return nil
			}
			after = &page[len(page)-1]
		}
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// CountEvents counts the journal's rows.
func (db *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.WithContext(ctx).Model(&models.Event{}).Count(&n).Error; err != nil {
		return 0, unavailable(fmt.Errorf("store: count events: %w", err))
	}
	return n, nil
}
