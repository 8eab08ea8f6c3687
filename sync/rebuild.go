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
		journal := s.readJournal(ctx)
		defer journal.close()
		w := newWork(tx)
		for page := range journal.pages {
			if err := s.rebuildPage(ctx, tx, w, page, careful, &st); err != nil {
				return err
			}
		}
		if err := journal.close(); err != nil || careful {
			return err
		}
		return w.flush()
	})
	return st, err
}

// rebuildPage records the outcomes a page's decoding changed and applies
// its events.
func (s *Syncer) rebuildPage(ctx context.Context, tx *store.Tx, w *work, page decodedPage, careful bool, st *RebuildStats) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, o := range page.changed {
		if err := tx.SetEventOutcome(o.id, o.status, o.reason); err != nil {
			return err
		}
	}
	st.Events += page.events
	st.Ignored += page.ignored
	st.Failed += page.failed
	if careful {
		return s.rebuildCarefully(ctx, tx, page.apply, st)
	}
	return s.rebuildFast(w, page.apply, st)
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
	// What the transaction knows of the rows it stored would grow with
	// every row of the mirror (1.6 GB of RSS for 1.3 million events).
	w.tx.Forget()
	if w.size() > s.opts.RebuildCacheRows {
		if err := w.flush(); err != nil {
			return err
		}
		w.forget()
	}
	return nil
}

// decodedPage is a page of the journal decoded again.
type decodedPage struct {
	apply                   []*Event  // the events to apply
	changed                 []outcome // rows whose recorded outcome changes
	events, ignored, failed int
}

type outcome struct {
	id     string
	status models.EventStatus
	reason *string
}

// decodePage decodes a page of the journal again.
func decodePage(rows []models.Event) (decodedPage, error) {
	p := decodedPage{apply: make([]*Event, 0, len(rows)), events: len(rows)}
	for i := range rows {
		row := &rows[i]
		env, err := ParseEnvelope(row.Payload)
		if err != nil {
			return p, store.Abort(fmt.Errorf("sync: journaled event %s no longer parses: %w", row.ID, err))
		}
		ev, status, reason := classify(env)
		switch status {
		case models.EventApplied:
			p.apply = append(p.apply, ev)
		case models.EventIgnored:
			p.ignored++
		case models.EventFailed:
			p.failed++
		}
		if status != row.Status || !sameReason(reason, row.Error) {
			p.changed = append(p.changed, outcome{row.ID, status, reason})
		}
	}
	return p, nil
}

// journalReader reads and decodes the journal in a goroutine of its own, a
// few pages ahead of the rebuild that applies them: on two cores the JSON
// decoding and the journal reads then run beside the mirror's writes.
type journalReader struct {
	pages  <-chan decodedPage
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
}

func (s *Syncer) readJournal(ctx context.Context) *journalReader {
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan decodedPage, 2)
	j := &journalReader{pages: pages, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		defer close(pages)
		j.err = s.db.EachEvent(ctx, s.opts.RebuildBatch, func(rows []models.Event) error {
			page, err := decodePage(rows)
			if err != nil {
				return err
			}
			select {
			case pages <- page:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return j
}

// close stops the reader and reports why it ended: nil only when it read
// the whole journal. Once pages is drained, that is how it ended.
func (j *journalReader) close() error {
	j.cancel()
	<-j.done
	return j.err
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
