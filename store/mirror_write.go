package store

import (
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/buzzmirror/buzzmirror/models"
)

// idChunk bounds the ids of one IN list and the rows of one multi-row
// upsert, far below SQLite's and Postgres's parameter limits.
const idChunk = 200

func take[T any](tx *Tx, what, id string) (*T, error) {
	var row T
	err := tx.g.Take(&row, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, models.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: load %s %s: %w", what, id, err)
	}
	return &row, nil
}

// loadMany reads the rows with the given ids; missing ids are absent from
// the answer.
func loadMany[T any](tx *Tx, what string, ids []string, idOf func(*T) string) (map[string]*T, error) {
	out := make(map[string]*T, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		var rows []T
		if err := tx.g.Where("id IN ?", chunk).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: load %d %s: %w", len(chunk), what, err)
		}
		for i := range rows {
			out[idOf(&rows[i])] = &rows[i]
		}
	}
	return out, nil
}

// putMany upserts whole rows, several per statement.
func putMany[T any](tx *Tx, what string, rows []*T) error {
	for chunk := range slices.Chunk(rows, idChunk) {
		if err := tx.g.Clauses(clause.OnConflict{UpdateAll: true}).Create(chunk).Error; err != nil {
			return fmt.Errorf("store: write %d %s: %w", len(chunk), what, err)
		}
	}
	return nil
}

// Contact loads a contact for update.
func (tx *Tx) Contact(id string) (*models.Contact, error) {
	return take[models.Contact](tx, "contact", id)
}

// Conversation loads a conversation for update.
func (tx *Tx) Conversation(id string) (*models.Conversation, error) {
	return take[models.Conversation](tx, "conversation", id)
}

// Message loads a message for update.
func (tx *Tx) Message(id string) (*models.Message, error) {
	return take[models.Message](tx, "message", id)
}

// WorkflowRun loads a workflow run for update.
func (tx *Tx) WorkflowRun(id string) (*models.WorkflowRun, error) {
	return take[models.WorkflowRun](tx, "workflow run", id)
}

// Contacts loads the contacts with the given ids.
func (tx *Tx) Contacts(ids []string) (map[string]*models.Contact, error) {
	return loadMany(tx, "contacts", ids, func(c *models.Contact) string { return c.ID })
}

// Conversations loads the conversations with the given ids.
func (tx *Tx) Conversations(ids []string) (map[string]*models.Conversation, error) {
	return loadMany(tx, "conversations", ids, func(c *models.Conversation) string { return c.ID })
}

// Messages loads the messages with the given ids.
func (tx *Tx) Messages(ids []string) (map[string]*models.Message, error) {
	return loadMany(tx, "messages", ids, func(m *models.Message) string { return m.ID })
}

// WorkflowRuns loads the workflow runs with the given ids.
func (tx *Tx) WorkflowRuns(ids []string) (map[string]*models.WorkflowRun, error) {
	return loadMany(tx, "workflow runs", ids, func(r *models.WorkflowRun) string { return r.ID })
}

// PutContacts writes contacts and replaces the tag index of those in tags.
func (tx *Tx) PutContacts(rows []*models.Contact, tags map[string][]string) error {
	if err := putMany(tx, "contacts", rows); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	ids := make([]string, 0, len(tags))
	var pairs []models.ContactTag
	for id, list := range tags {
		ids = append(ids, id)
		for _, t := range list {
			pairs = append(pairs, models.ContactTag{ContactID: id, Tag: t})
		}
	}
	for chunk := range slices.Chunk(ids, idChunk) {
		if err := tx.g.Where("contact_id IN ?", chunk).Delete(&models.ContactTag{}).Error; err != nil {
			return fmt.Errorf("store: clear tags of %d contacts: %w", len(chunk), err)
		}
	}
	for chunk := range slices.Chunk(pairs, 500) {
		if err := tx.g.Create(chunk).Error; err != nil {
			return fmt.Errorf("store: write %d tags: %w", len(chunk), err)
		}
	}
	return nil
}

// PutConversations writes conversations.
func (tx *Tx) PutConversations(rows []*models.Conversation) error {
	return putMany(tx, "conversations", rows)
}

// PutMessages writes messages.
func (tx *Tx) PutMessages(rows []*models.Message) error { return putMany(tx, "messages", rows) }

// PutWorkflowRuns writes workflow runs.
func (tx *Tx) PutWorkflowRuns(rows []*models.WorkflowRun) error {
	return putMany(tx, "workflow runs", rows)
}
