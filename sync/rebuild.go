package sync

import (
	"context"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// RebuildStats summarises a rebuild.
type RebuildStats struct {
	Events  int
	Applied int
	Ignored int
	Failed  int
}

// Rebuild empties the mirror and recomputes it from the journal in one
// transaction, so readers see the old mirror until the new one is complete.
// Every event is decoded again, so one quarantined by an older version of
// buzzmirror is applied when this one understands it. Events are replayed
// oldest first, a page at a time, each page in one unit of work.
func (s *Syncer) Rebuild(ctx context.Context) (RebuildStats, error) {
	var st RebuildStats
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		st = RebuildStats{}
		if err := tx.ClearMirror(); err != nil {
			return err
		}
		return tx.EachEvent(s.opts.RebuildBatch, func(page []models.Event) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return s.rebuildPage(ctx, tx, page, &st)
		})
	})
	return st, err
}

func (s *Syncer) rebuildPage(ctx context.Context, tx *store.Tx, page []models.Event, st *RebuildStats) error {
	events := make([]*Event, 0, len(page))
	for i := range page {
		row := &page[i]
		env, err := ParseEnvelope(row.Payload)
		if err != nil {
			return store.Abort(fmt.Errorf("sync: journaled event %s no longer parses: %w", row.ID, err))
		}
		ev, status, reason := classify(env)
		if status == models.EventApplied {
			events = append(events, ev)
		}
		if status != row.Status || !sameReason(reason, row.Error) {
			if err := tx.SetEventOutcome(row.ID, status, reason); err != nil {
				return err
			}
		}
		st.Events++
		switch status {
		case models.EventIgnored:
			st.Ignored++
		case models.EventFailed:
			st.Failed++
		}
	}
	err := tx.Savepoint("rebuild_page", func() error { return s.project(tx, events) })
	if err == nil {
		st.Applied += len(events)
		return nil
	}
	// One event spoiled the page: replay it event by event.
	for _, ev := range events {
		status, err := s.applyIsolated(ctx, tx, ev)
		if err != nil {
			return err
		}
		if status == models.EventApplied {
			st.Applied++
		} else {
			st.Failed++
		}
	}
	return nil
}

func sameReason(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
