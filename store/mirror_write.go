package store

import (
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
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

// loadMany reads the rows with the given ids into out; missing ids are
// absent from it. On Postgres the reads are queued, and the caller sends them.
func loadMany[T any](tx *Tx, what string, ids []string, idOf func(*T) string, out map[string]*T) error {
	for chunk := range slices.Chunk(ids, idChunk) {
		if tx.pipe != nil {
			err := tx.queue(func(g *gorm.DB) *gorm.DB { return g.Where("id IN ?", chunk).Find(new([]T)) },
				func(st *gorm.Statement, rows pgx.Rows) error {
					return scanModels(st.Schema, rows, func(row *T) { out[idOf(row)] = row })
				})
			if err != nil {
				return fmt.Errorf("store: load %d %s: %w", len(chunk), what, err)
			}
			continue
		}
		rows, err := findAll[T](tx.g.Model(new(T)).Where("id IN ?", chunk), len(chunk))
		if err != nil {
			return fmt.Errorf("store: load %d %s: %w", len(chunk), what, err)
		}
		for i := range rows {
			out[idOf(&rows[i])] = &rows[i]
		}
	}
	return nil
}

// putMany upserts whole rows, several per statement.
func putMany[T any](tx *Tx, what string, rows []*T) error {
	for chunk := range slices.Chunk(rows, idChunk) {
		err := tx.later(func(g *gorm.DB) *gorm.DB {
			return g.Clauses(clause.OnConflict{UpdateAll: true}).Create(chunk)
		})
		if err != nil {
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

// Keys names mirror rows by kind.
type Keys struct {
	Contacts, Conversations, Messages, WorkflowRuns []string
}

// Rows holds mirror rows by kind and id.
type Rows struct {
	Contacts      map[string]*models.Contact
	Conversations map[string]*models.Conversation
	Messages      map[string]*models.Message
	WorkflowRuns  map[string]*models.WorkflowRun
}

// LoadLater reads the rows keys names in a few bulk reads, and the function
// it returns answers them; ids the store lacks are absent from the answer.
// On Postgres the reads wait for the transaction's next round trip, and
// that function sends them if nothing else did; on SQLite they run at once.
func (tx *Tx) LoadLater(keys Keys) func() (*Rows, error) {
	r := &Rows{
		Contacts:      make(map[string]*models.Contact, len(keys.Contacts)),
		Conversations: make(map[string]*models.Conversation, len(keys.Conversations)),
		Messages:      make(map[string]*models.Message, len(keys.Messages)),
		WorkflowRuns:  make(map[string]*models.WorkflowRun, len(keys.WorkflowRuns)),
	}
	err := errors.Join(
		loadMany(tx, "contacts", keys.Contacts, func(c *models.Contact) string { return c.ID }, r.Contacts),
		loadMany(tx, "conversations", keys.Conversations, func(c *models.Conversation) string { return c.ID }, r.Conversations),
		loadMany(tx, "messages", keys.Messages, func(m *models.Message) string { return m.ID }, r.Messages),
		loadMany(tx, "workflow runs", keys.WorkflowRuns, func(w *models.WorkflowRun) string { return w.ID }, r.WorkflowRuns),
	)
	return func() (*Rows, error) {
		if err == nil {
			err = tx.Sync()
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
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
		err := tx.later(func(g *gorm.DB) *gorm.DB {
			return g.Where("contact_id IN ?", chunk).Delete(&models.ContactTag{})
		})
		if err != nil {
			return fmt.Errorf("store: clear tags of %d contacts: %w", len(chunk), err)
		}
	}
	for chunk := range slices.Chunk(pairs, 500) {
		if err := tx.later(func(g *gorm.DB) *gorm.DB { return g.Create(chunk) }); err != nil {
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
