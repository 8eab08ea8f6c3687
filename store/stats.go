package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Stats are counts over the stored mirror and journal, read in one snapshot.
type Stats struct {
	Contacts       int64
	Conversations  map[string]int64 // by status
	Messages       map[string]int64 // by status
	WorkflowRuns   int64
	Events         map[string]int64 // by status
	LastEventAt    *models.Time     // newest createdAt in the journal
	LastReceivedAt *models.Time     // newest receipt in the journal
}

// Stats counts rows.
func (db *DB) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{}
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		var err error
		if err = tx.Model(&models.Contact{}).Count(&st.Contacts).Error; err != nil {
			return fmt.Errorf("store: count contacts: %w", err)
		}
		if err = tx.Model(&models.WorkflowRun{}).Count(&st.WorkflowRuns).Error; err != nil {
			return fmt.Errorf("store: count workflow runs: %w", err)
		}
		for table, dest := range map[string]*map[string]int64{
			"conversations": &st.Conversations, "messages": &st.Messages, "events": &st.Events,
		} {
			if *dest, err = countByStatus(tx, table); err != nil {
				return err
			}
		}
		var last struct{ Created, Received *models.Time }
		err = tx.Raw("SELECT MAX(created_at) AS created, MAX(received_at) AS received FROM events").Scan(&last).Error
		if err != nil {
			return fmt.Errorf("store: newest event: %w", err)
		}
		st.LastEventAt, st.LastReceivedAt = last.Created, last.Received
		return nil
	})
	return st, err
}

func countByStatus(tx *gorm.DB, table string) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	if err := tx.Raw("SELECT status, COUNT(*) AS n FROM " + table + " GROUP BY status").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: count %s: %w", table, err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
