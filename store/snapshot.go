package store

import (
	"context"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
)

// Dump is every mirror row, each table ordered by primary key.
type Dump struct {
	Contacts      []models.Contact
	ContactTags   []models.ContactTag
	Conversations []models.Conversation
	Messages      []models.Message
	WorkflowRuns  []models.WorkflowRun
}

// Snapshot reads the whole mirror in one read transaction. It is meant for
// tests and for comparing a mirror before and after a rebuild, not for
// large databases.
func (db *DB) Snapshot(ctx context.Context) (*Dump, error) {
	var m Dump
	tx := db.read.WithContext(ctx).Begin()
	if tx.Error != nil {
		return nil, unavailable(tx.Error)
	}
	defer tx.Rollback()
	for _, q := range []struct {
		dest  any
		order string
	}{
		{&m.Contacts, "id"}, {&m.ContactTags, "contact_id, tag"}, {&m.Conversations, "id"},
		{&m.Messages, "id"}, {&m.WorkflowRuns, "id"},
	} {
		if err := tx.Order(q.order).Find(q.dest).Error; err != nil {
			return nil, unavailable(fmt.Errorf("store: snapshot: %w", err))
		}
	}
	return &m, nil
}
