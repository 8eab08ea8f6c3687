package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Retention of message bodies (retention.message_bodies): a message event
// older than the retention by createdAt loses data.body in the journal,
// and a message whose body came from such an event loses it in the
// mirror, as if BuzzBip had sent no body. An event already that old when
// it arrives is journaled without it (Journal.Ingest); the rest are swept
// (Sweep). Since a message's body is the newest body among its events, it
// came from an old event exactly when the version of its body is old: a
// rebuild of the swept journal gives the same mirror.

// isMessageEvent reports whether typ carries a message body.
func isMessageEvent(typ string) bool { return strings.HasPrefix(typ, "message.") }

// stripBody returns raw without data.body, and whether it had one.
func stripBody(raw []byte) ([]byte, bool, error) {
	if !bytes.Contains(raw, []byte(`"body"`)) {
		return raw, false, nil // no key spelt plainly: the common case, without parsing
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, false, err
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env["data"], &data); err != nil || data == nil {
		return raw, false, nil // no data object: nothing to strip
	}
	if _, ok := data["body"]; !ok {
		return raw, false, nil
	}
	delete(data, "body")
	var err error
	if env["data"], err = json.Marshal(data); err != nil {
		return nil, false, err
	}
	out, err := json.Marshal(env)
	return out, true, err
}

// Sweeper strips the bodies that got older than the retention.
type Sweeper struct {
	db     *store.DB
	log    *slog.Logger
	retain time.Duration
	batch  int
}

// NewSweeper returns a sweeper for bodies older than retain.
func NewSweeper(db *store.DB, log *slog.Logger, retain time.Duration) *Sweeper {
	return &Sweeper{db: db, log: log, retain: retain, batch: 100}
}

// SweepStats is what one sweep did.
type SweepStats struct {
	Events, Messages, Batches int
	// Longest is the longest a batch held the write path: from its first
	// statement to its commit, and the WAL restart that may follow it on
	// SQLite. LongestWait is the longest a batch waited to begin, behind
	// other writers (on SQLite, the journal's).
	Longest, LongestWait time.Duration
}

// Sweep strips every body older than the retention, from where the last
// sweep stopped, in batches of 100 events, one short transaction each
// (see BENCHMARKS.md for how long they hold the write path).
func (s *Sweeper) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	cutoff := models.NewTime(s.db.Now().Add(-s.retain))
	from, err := s.db.SweptUntil(ctx)
	if err != nil {
		return st, err
	}
	// From a minute before where the last sweep ended: a delivery committed
	// just after it read may be dated before its cutoff.
	after := store.Key{}
	if !from.IsZero() {
		after.At = models.FormatTime(from.Add(-time.Minute))
	}
	for {
		rows, err := s.db.MessageEventsBefore(ctx, after, cutoff, s.batch)
		if err != nil {
			return st, err
		}
		if len(rows) == 0 {
			return st, s.db.Write(ctx, func(tx *store.Tx) error { return tx.MarkSwept(cutoff) })
		}
		last := rows[len(rows)-1]
		after = store.Key{At: models.FormatTime(last.CreatedAt.Time), ID: last.ID}
		stripped := map[string][]byte{}
		messages := map[string]bool{}
		for _, row := range rows {
			out, had, err := stripBody(row.Payload)
			if err != nil || !had {
				continue
			}
			stripped[row.ID] = out
			if ev, status, _ := decodeJournaled(row); status == models.EventPending {
				messages[ev.Message.MessageID] = true
			}
		}
		if len(stripped) == 0 {
			continue
		}
		asked := time.Now()
		var began time.Time
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			began = time.Now() // on SQLite the write lock is ours from here
			for _, id := range sortedKeys(keysOf(stripped)) {
				if err := tx.SetPayload(id, stripped[id]); err != nil {
					return err
				}
			}
			versions, err := tx.MessageBodyVersions(sortedKeys(messages))
			if err != nil {
				return err
			}
			for _, id := range sortedKeys(messages) {
				v, ok := versions[id]
				if !ok {
					continue
				}
				if t, ok := versionTime(v); ok && t.Before(cutoff.Time) {
					if err := tx.ClearMessageBody(id); err != nil {
						return err
					}
					st.Messages++
				}
			}
			return tx.MarkSwept(last.CreatedAt)
		})
		if err != nil {
			return st, fmt.Errorf("retention: %w", err)
		}
		st.Events += len(stripped)
		st.Batches++
		st.Longest = max(st.Longest, time.Since(began))
		st.LongestWait = max(st.LongestWait, began.Sub(asked))
	}
}

func keysOf(m map[string][]byte) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// Run sweeps at once and then every interval until ctx ends, while
// holding() (the instance that projects does it: one sweeper at a time).
func (s *Sweeper) Run(ctx context.Context, interval time.Duration, holding func() bool) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if holding() {
			st, err := s.Sweep(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("retention: sweep failed; trying again in a minute", "err", err)
			case st.Events > 0:
				s.log.Info("retention: message bodies removed", "events", st.Events, "messages", st.Messages,
					"batches", st.Batches, "longest_ms", st.Longest.Milliseconds(), "longest_wait_ms", st.LongestWait.Milliseconds())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
