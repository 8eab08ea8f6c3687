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
// buzzmirror is applied when this one understands it.
//
// The fast pass keeps contacts, conversations and workflow runs in memory
// across pages and writes each once at the end (or when Options.
// RebuildCacheRows are cached),
// since later events name them again and again; messages are written after
// every page. Should anything fail, that pass is rolled back whole and a
// careful pass replays the journal page by page, each page in a savepoint
// and a failing page event by event, so one event the database refuses is
// kept as failed instead of stopping the rebuild.
func (s *Syncer) Rebuild(ctx context.Context) (RebuildStats, error) {
	st, err := s.rebuild(ctx, false)
	if err == nil || ctx.Err() != nil || store.Aborted(err) || s.db.Ping(ctx) != nil {
		return st, err
	}
	s.log.Warn("fast rebuild failed; rebuilding page by page", "err", err)
	return s.rebuild(ctx, true)
}

func (s *Syncer) rebuild(ctx context.Context, careful bool) (RebuildStats, error) {
	var st RebuildStats
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		st = RebuildStats{}
		if err := tx.ClearMirror(); err != nil {
			return err
		}
		w := newWork(tx)
		err := tx.EachEvent(s.opts.RebuildBatch, func(page []models.Event) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			events, err := s.reclassify(tx, page, &st)
			if err != nil {
				return err
			}
			if careful {
				return s.rebuildCarefully(ctx, tx, events, &st)
			}
			return s.rebuildFast(w, events, &st)
		})
		if err != nil || careful {
			return err
		}
		return w.flush()
	})
	return st, err
}

func (s *Syncer) rebuildFast(w *work, events []*Event, st *RebuildStats) error {
	if err := w.prefetch(events); err != nil {
		return err
	}
	for _, ev := range events {
		if err := w.apply(ev); err != nil {
			return err
		}
	}
	st.Applied += len(events)
	// Messages are mostly named by one event, or a few close together.
	if err := w.flushMessages(); err != nil {
		return err
	}
	clear(w.messages)
	if w.size() > s.opts.RebuildCacheRows {
		if err := w.flush(); err != nil {
			return err
		}
		w.forget()
	}
	return nil
}

// reclassify decodes a page of the journal again, records any changed
// outcome, and returns the events to apply.
func (s *Syncer) reclassify(tx *store.Tx, page []models.Event, st *RebuildStats) ([]*Event, error) {
	events := make([]*Event, 0, len(page))
	for i := range page {
		row := &page[i]
		env, err := ParseEnvelope(row.Payload)
		if err != nil {
			return nil, store.Abort(fmt.Errorf("sync: journaled event %s no longer parses: %w", row.ID, err))
		}
		ev, status, reason := classify(env)
		if status == models.EventApplied {
			events = append(events, ev)
		}
		if status != row.Status || !sameReason(reason, row.Error) {
			if err := tx.SetEventOutcome(row.ID, status, reason); err != nil {
				return nil, err
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
	return events, nil
}

// rebuildCarefully applies a page in a savepoint, and a page that fails
// event by event.
func (s *Syncer) rebuildCarefully(ctx context.Context, tx *store.Tx, events []*Event, st *RebuildStats) error {
	err := tx.Savepoint("rebuild_page", func() error { return s.project(tx, events) })
	if err == nil {
		st.Applied += len(events)
		return nil
	}
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
