package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Outcome is the webhook's answer for a verified event.
type Outcome string

// The outcomes of CONTRACT's answer table, besides errors.
const (
	Accepted    Outcome = "accepted"    // new, journaled and applied
	Duplicate   Outcome = "duplicate"   // the id is already journaled
	Ignored     Outcome = "ignored"     // unknown type: journaled, not applied
	Quarantined Outcome = "quarantined" // data unusable: journaled as failed
)

// Result is what became of one delivery.
type Result struct {
	Outcome Outcome
	Type    string // the envelope's type
}

// Syncer journals verified events and projects them into the mirror.
type Syncer struct {
	db         *store.DB
	log        *slog.Logger
	duplicates atomic.Int64
}

// NewSyncer returns a Syncer writing to db.
func NewSyncer(db *store.DB, log *slog.Logger) *Syncer {
	return &Syncer{db: db, log: log}
}

// DuplicatesRejected counts deliveries this instance answered "duplicate"
// since it started.
func (s *Syncer) DuplicatesRejected() int64 { return s.duplicates.Load() }

// classify decides what to do with an envelope: apply its decoded event, or
// journal it as ignored or failed with a reason.
func classify(env *Envelope) (*Event, models.EventStatus, *string) {
	ev, err := Decode(env)
	var dataErr *DataError
	switch {
	case err == nil:
		return ev, models.EventApplied, nil
	case errors.As(err, &dataErr):
		reason := dataErr.Error()
		return nil, models.EventFailed, &reason
	default:
		return nil, models.EventIgnored, nil
	}
}

var outcomes = map[models.EventStatus]Outcome{
	models.EventApplied: Accepted,
	models.EventIgnored: Ignored,
	models.EventFailed:  Quarantined,
}

// Ingest journals and applies one signed body in a single transaction and
// returns only once it is committed. A body that is not a valid envelope is
// ErrBadEnvelope and nothing is stored; any other error means the storage
// failed and the sender should retry.
func (s *Syncer) Ingest(ctx context.Context, raw []byte) (Result, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return Result{}, err
	}
	ev, status, reason := classify(env)
	res := Result{Type: env.Type}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		row := &models.Event{
			ID: env.ID, Type: env.Type, Status: status, Error: reason,
			CreatedAt: models.NewTime(env.CreatedAt), ReceivedAt: tx.Now(), Payload: raw,
		}
		inserted, err := tx.InsertEvent(row)
		if err != nil || !inserted {
			res.Outcome = Duplicate
			return err
		}
		if status == models.EventApplied {
			status, err = s.applyIsolated(ctx, tx, ev)
		}
		res.Outcome = outcomes[status]
		return err
	})
	if err != nil {
		return Result{}, err
	}
	if res.Outcome == Duplicate {
		s.duplicates.Add(1)
	}
	return res, nil
}

// applyIsolated projects ev inside a savepoint. Should the projection fail
// while the database still answers (a value it will not store, say), the
// event would fail the same way on every retry; it is kept as failed, visible
// under /v1/events?status=failed, and a later `rebuild` retries it. When the
// savepoint cannot be rolled back the database itself is gone and the whole
// delivery fails, so BuzzBip retries it.
func (s *Syncer) applyIsolated(ctx context.Context, tx *store.Tx, ev *Event) (models.EventStatus, error) {
	var applyErr error
	err := tx.Savepoint("apply", func() error {
		applyErr = newWork(tx).apply(ev)
		return applyErr
	})
	if err == nil {
		return models.EventApplied, nil
	}
	if !errors.Is(err, applyErr) || ctx.Err() != nil {
		return "", err
	}
	s.log.Error("event could not be applied; kept as failed", "event", ev.ID, "type", ev.Type, "err", applyErr)
	reason := "could not be applied: " + applyErr.Error()
	if err := tx.SetEventOutcome(ev.ID, models.EventFailed, &reason); err != nil {
		return "", err
	}
	return models.EventFailed, nil
}

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
func (s *Syncer) Rebuild(ctx context.Context) (RebuildStats, error) {
	var st RebuildStats
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		st = RebuildStats{}
		if err := tx.ClearMirror(); err != nil {
			return err
		}
		return tx.EachEvent(1000, func(row *models.Event) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.Events++
			env, err := ParseEnvelope(row.Payload)
			if err != nil {
				return store.Abort(fmt.Errorf("sync: journaled event %s no longer parses: %w", row.ID, err))
			}
			ev, status, reason := classify(env)
			switch {
			case status == models.EventApplied:
				// applyIsolated records a failure itself.
				if status, err = s.applyIsolated(ctx, tx, ev); err != nil {
					return err
				}
				if status == models.EventApplied && row.Status != status {
					err = tx.SetEventOutcome(row.ID, status, nil)
				}
			case status != row.Status || !sameReason(reason, row.Error):
				err = tx.SetEventOutcome(row.ID, status, reason)
			}
			if err != nil {
				return err
			}
			switch status {
			case models.EventApplied:
				st.Applied++
			case models.EventIgnored:
				st.Ignored++
			default:
				st.Failed++
			}
			return nil
		})
	})
	return st, err
}

func sameReason(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
