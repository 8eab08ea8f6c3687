package store

import (
	"context"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
)

// JournalPages calls fn with every journaled event in the order they were
// received, batch rows at a time so memory stays flat, and each page read
// in a snapshot of its own: one snapshot held for a whole rebuild would
// keep SQLite from checkpointing its WAL and Postgres from vacuuming. An
// event committed after its place was passed is not seen; a rebuild gets
// those from the projector (see sync.Rebuild). (The projection does not
// depend on the order; receipt order walks an index every list already
// needs.)
func (db *DB) JournalPages(ctx context.Context, batch int, fn func([]models.Event) error) error {
	var after *models.Event
	for {
		q := db.read.WithContext(ctx).Model(&models.Event{}).Order("received_at, id").Limit(batch)
		if after != nil {
			q = q.Where("(received_at, id) > (?, ?)", after.ReceivedAt, after.ID)
		}
		page, err := findAll[models.Event](q, batch)
		if err != nil {
			return unavailable(fmt.Errorf("store: read journal: %w", err))
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
