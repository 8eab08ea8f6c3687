package store

import (
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

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

// loadMany reads the rows of t with the given ids into out; missing ids are
// absent from it. On Postgres the reads are queued, and the caller sends them.
func loadMany[T any](tx *Tx, t *table[T], ids []string, out map[string]*T) error {
	stored := tx.storedKeys(t.slot)
	for start, n := range chunks(len(ids)) {
		args := make([]any, n)
		for i, id := range ids[start : start+n] {
			args[i] = id
			stored[id] = nil // not found, until the row answers
		}
		err := tx.query(tx.texts.text(t.load, n), args, func(scan func(...any) error) error {
			row := new(T)
			if err := scan(t.fields(row)...); err != nil {
				return err
			}
			id := t.id(row)
			out[id] = row
			stored[id] = t.keyOf(row)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: load %d %s: %w", n, t.name, err)
		}
	}
	return nil
}

// putMany upserts whole rows of t, several per statement. A row loaded in
// this transaction has only those of its indexed columns set that changed
// (see table); one it looked for and did not find is a plain INSERT,
// sparing Postgres ON CONFLICT's arbiter check (a tenth of the writer's
// backend CPU in a profile); the others are written whole. Rows are
// grouped a window at a time, so that a rebuild's flush of many thousands
// holds the values of a few only.
func putMany[T any](tx *Tx, t *table[T], rows []*T) error {
	stored := tx.storedKeys(t.slot)
	width := len(t.columns)
	for window := range slices.Chunk(rows, putWindow) {
		byMask := make([][]any, len(t.upsert)) // the rows' values, one after another, by the keys they set
		counts := make([]int, len(t.upsert))
		var inserts []any
		for _, row := range window {
			vals := t.values(row, make([]any, 0, len(t.columns)))
			id := t.id(row)
			keys := t.keysIn(vals)
			known, loaded := stored[id]
			if loaded && known == nil {
				inserts = append(inserts, vals...)
				stored[id] = keys
				continue
			}
			mask := t.changed(known, keys)
			byMask[mask] = append(byMask[mask], vals...)
			counts[mask]++
			if loaded {
				stored[id] = keys
			}
		}
		for start, n := range chunks(len(inserts) / width) {
			if err := tx.exec(tx.texts.text(t.insert, n), inserts[start*width:(start+n)*width]); err != nil {
				return fmt.Errorf("store: insert %d %s: %w", n, t.name, err)
			}
		}
		for mask, args := range byMask {
			for start, n := range chunks(counts[mask]) {
				if err := tx.exec(tx.texts.text(t.upsert[mask], n), args[start*width:(start+n)*width]); err != nil {
					return fmt.Errorf("store: write %d %s: %w", n, t.name, err)
				}
			}
		}
	}
	return nil
}

// putWindow is how many rows putMany groups at a time.
const putWindow = 1024

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
		loadMany(tx, contactsTable, keys.Contacts, r.Contacts),
		loadMany(tx, conversationsTable, keys.Conversations, r.Conversations),
		loadMany(tx, messagesTable, keys.Messages, r.Messages),
		loadMany(tx, workflowRunsTable, keys.WorkflowRuns, r.WorkflowRuns),
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
	if err := putMany(tx, contactsTable, rows); err != nil {
		return err
	}
	ids := make([]any, 0, len(tags))
	var pairs []any
	for id, list := range tags {
		ids = append(ids, id)
		for _, t := range list {
			pairs = append(pairs, id, t)
		}
	}
	for start, n := range chunks(len(ids)) {
		if err := tx.exec(tx.texts.text(clearTags, n), ids[start:start+n]); err != nil {
			return fmt.Errorf("store: clear tags of %d contacts: %w", n, err)
		}
	}
	for start, n := range chunks(len(pairs) / 2) {
		if err := tx.exec(tx.texts.text(insertTags, n), pairs[2*start:2*(start+n)]); err != nil {
			return fmt.Errorf("store: write %d tags: %w", n, err)
		}
	}
	return nil
}

// PutConversations writes conversations.
func (tx *Tx) PutConversations(rows []*models.Conversation) error {
	return putMany(tx, conversationsTable, rows)
}

// PutMessages writes messages.
func (tx *Tx) PutMessages(rows []*models.Message) error { return putMany(tx, messagesTable, rows) }

// PutWorkflowRuns writes workflow runs.
func (tx *Tx) PutWorkflowRuns(rows []*models.WorkflowRun) error {
	return putMany(tx, workflowRunsTable, rows)
}
