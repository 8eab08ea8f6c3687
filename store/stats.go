package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Stats are the counts over the stored mirror and journal. They come from
// the counters every writer keeps in step with its rows, so reading them
// costs one small query however large the mirror is.
type Stats struct {
	Contacts       int64
	Conversations  map[string]int64 // by status
	Messages       map[string]int64 // by status
	WorkflowRuns   int64
	Events         map[models.EventStatus]int64
	LastEventAt    *models.Time // newest createdAt in the journal
	LastReceivedAt *models.Time // newest receipt in the journal
}

// Stats reads the counters.
func (db *DB) Stats(ctx context.Context) (*Stats, error) {
	counts, marks, err := db.Counters(ctx)
	if err != nil {
		return nil, err
	}
	st := &Stats{
		Contacts: counts[CountContacts], WorkflowRuns: counts[CountWorkflowRuns],
		Conversations: map[string]int64{}, Messages: map[string]int64{}, Events: map[models.EventStatus]int64{},
		LastEventAt: marks[markLastCreatedAt], LastReceivedAt: marks[markLastReceivedAt],
	}
	for _, s := range []string{models.ConversationOpen, models.ConversationResolved} {
		st.Conversations[s] = counts[ConversationCount(s)]
	}
	for _, s := range []string{models.MessageReceived, models.MessageSent, models.MessageFailed} {
		st.Messages[s] = counts[MessageCount(s)]
	}
	for _, s := range models.EventStatuses {
		st.Events[s] = counts[EventCount(s)]
	}
	return st, nil
}

// JournalRows is the number of journaled events, from the counters.
func (s *Stats) JournalRows() int64 {
	var n int64
	for _, c := range s.Events {
		n += c
	}
	return n
}

// CountStats computes what Stats reads from the counters by counting every
// table: slow on a large mirror, it is there to check the counters.
func (db *DB) CountStats(ctx context.Context) (*Stats, error) {
	st := &Stats{Conversations: map[string]int64{}, Messages: map[string]int64{}, Events: map[models.EventStatus]int64{}}
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		count := func(q string, dest func(key string, n int64)) error {
			var rows []struct {
				K string
				N int64
			}
			if err := tx.Raw(q).Scan(&rows).Error; err != nil {
				return fmt.Errorf("store: %s: %w", q, err)
			}
			for _, r := range rows {
				dest(r.K, r.N)
			}
			return nil
		}
		return errors.Join(
			count("SELECT '' AS k, COUNT(*) AS n FROM contacts", func(_ string, n int64) { st.Contacts = n }),
			count("SELECT '' AS k, COUNT(*) AS n FROM workflow_runs", func(_ string, n int64) { st.WorkflowRuns = n }),
			count("SELECT status AS k, COUNT(*) AS n FROM conversations GROUP BY status", func(k string, n int64) { st.Conversations[k] = n }),
			count("SELECT status AS k, COUNT(*) AS n FROM messages GROUP BY status", func(k string, n int64) { st.Messages[k] = n }),
			count("SELECT status AS k, COUNT(*) AS n FROM events GROUP BY status", func(k string, n int64) { st.Events[models.EventStatus(k)] = n }),
			tx.Raw("SELECT MAX(created_at) FROM events").Scan(&st.LastEventAt).Error,
			tx.Raw("SELECT MAX(received_at) FROM events").Scan(&st.LastReceivedAt).Error,
		)
	})
	return st, err
}
