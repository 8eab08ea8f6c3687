package store

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// A list is a filter (a function that narrows a query), an order and a
// page; List runs one page of it, Export every matching row, a page at a
// time, in one snapshot.

// ContactFilter narrows a contact list; zero fields do not filter.
type ContactFilter struct {
	IDs          []string // exactly these
	Phone        string   // compared after NormalizePhone on both sides
	Email        string   // case-insensitive
	Tags         []string // all must match
	Q            string   // case-insensitive substring of name, phone or email
	UpdatedSince *time.Time

	match string // SQLite: the rare trigrams of Q (grams.go)
}

var byUpdated = order{column: "updated_at", desc: true}

// The sort keys of the lists: a row's position, for the next page's cursor.
func ContactKey(c *models.Contact) Key { return Key{At: models.FormatTime(c.UpdatedAt.Time), ID: c.ID} }
func ConversationKey(c *models.Conversation) Key {
	return Key{At: models.FormatTime(c.UpdatedAt.Time), ID: c.ID}
}
func MessageKey(m *models.Message) Key { return Key{At: models.FormatTime(m.UpdatedAt.Time), ID: m.ID} }
func MessageCreatedKey(m *models.Message) Key {
	return Key{At: models.FormatTime(m.CreatedAt.Time), ID: m.ID}
}
func WorkflowRunKey(r *models.WorkflowRun) Key {
	return Key{At: models.FormatTime(r.TriggeredAt.Time), ID: r.ID}
}
func EventKey(e *models.Event) Key { return Key{At: models.FormatTime(e.ReceivedAt.Time), ID: e.ID} }

func (f ContactFilter) apply(q *gorm.DB) *gorm.DB {
	q = byIDs(q, f.IDs)
	if f.Phone != "" {
		q = q.Where("phone_norm = ?", f.Phone)
	}
	if f.Email != "" {
		q = q.Where("email_norm = ?", strings.ToLower(f.Email))
	}
	for _, tag := range f.Tags {
		q = q.Where("EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = contacts.id AND t.tag = ?)", tag)
	}
	if f.Q != "" {
		q = substring(q, "contacts", strings.ToLower(f.Q), f.match)
	}
	if f.UpdatedSince != nil {
		q = q.Where("updated_at >= ?", models.NewTime(*f.UpdatedSince))
	}
	return q
}

// byIDs narrows q to rows with the given ids, when there are any.
func byIDs(q *gorm.DB, ids []string) *gorm.DB {
	if len(ids) == 0 {
		return q
	}
	return q.Where("id IN ?", ids)
}

// Contacts lists contacts, newest updatedAt first.
func (db *DB) Contacts(ctx context.Context, f ContactFilter, p Page) ([]models.Contact, bool, error) {
	var err error
	if f.match, err = db.rareGrams(ctx, "contacts", f.Q); err != nil {
		return nil, false, err
	}
	return list[models.Contact](f.apply(db.mirrorRows(ctx, &models.Contact{})), byUpdated, p, "contacts")
}

// ExportContacts hands fn every contact f matches, in the list's order, a
// page at a time, all read in one snapshot.
func (db *DB) ExportContacts(ctx context.Context, f ContactFilter, fn func(context.Context, []models.Contact) error) error {
	var err error
	if f.match, err = db.rareGrams(ctx, "contacts", f.Q); err != nil {
		return err
	}
	return export(ctx, db, &models.Contact{}, f.apply, byUpdated, ContactKey, "contacts", fn)
}

// Contact reads one contact.
func (db *DB) Contact(ctx context.Context, id string) (*models.Contact, error) {
	return get[models.Contact](ctx, db, id, "contact")
}

// ContactExists answers models.ErrNotFound unless the mirror holds
// contact id.
func (db *DB) ContactExists(ctx context.Context, id string) error {
	return exists(ctx, db, &models.Contact{}, id, "contact")
}

// ContactsByID reads the contacts with the given ids, by id; those that
// do not exist are absent.
func (db *DB) ContactsByID(ctx context.Context, ids []string) (map[string]*models.Contact, error) {
	out := make(map[string]*models.Contact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, _, err := list[models.Contact](byIDs(db.mirrorRows(ctx, &models.Contact{}), ids), byUpdated, Page{Limit: len(ids)}, "contacts")
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, err
}

// ConversationFilter narrows a conversation list.
type ConversationFilter struct {
	IDs           []string
	Status        string
	AwaitingReply *bool
	ContactID     string
	// Owned, with ContactID, matches nothing unless the mirror holds that
	// contact: a list under the contact tells an empty list from a missing
	// contact in the same query (see ownedBy).
	Owned        bool
	Channel      string
	UpdatedSince *time.Time
}

func (f ConversationFilter) apply(q *gorm.DB) *gorm.DB {
	q = byIDs(q, f.IDs)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.AwaitingReply != nil {
		q = q.Where("awaiting_reply = ?", *f.AwaitingReply)
	}
	if f.ContactID != "" {
		q = q.Where("contact_id = ?", f.ContactID)
		if f.Owned {
			q = ownedBy(q, "contacts", f.ContactID)
		}
	}
	if f.Channel != "" {
		q = q.Where("channel = ?", f.Channel)
	}
	if f.UpdatedSince != nil {
		q = q.Where("updated_at >= ?", models.NewTime(*f.UpdatedSince))
	}
	return q
}

// Conversations lists conversations, newest updatedAt first.
func (db *DB) Conversations(ctx context.Context, f ConversationFilter, p Page) ([]models.Conversation, bool, error) {
	return list[models.Conversation](f.apply(db.mirrorRows(ctx, &models.Conversation{})), byUpdated, p, "conversations")
}

// ExportConversations is ExportContacts for conversations.
func (db *DB) ExportConversations(ctx context.Context, f ConversationFilter, fn func(context.Context, []models.Conversation) error) error {
	return export(ctx, db, &models.Conversation{}, f.apply, byUpdated, ConversationKey, "conversations", fn)
}

// Conversation reads one conversation.
func (db *DB) Conversation(ctx context.Context, id string) (*models.Conversation, error) {
	return get[models.Conversation](ctx, db, id, "conversation")
}

// ConversationExists answers models.ErrNotFound unless the mirror holds
// conversation id.
func (db *DB) ConversationExists(ctx context.Context, id string) error {
	return exists(ctx, db, &models.Conversation{}, id, "conversation")
}

// MessageFilter narrows a message list. Since is inclusive, Until exclusive,
// both on the message's createdAt.
type MessageFilter struct {
	IDs            []string
	Status         string
	Direction      string
	Channel        string
	ConversationID string
	ContactID      string
	Owned          bool   // as in ConversationFilter
	ErrorCode      string // exact
	Q              string // case-insensitive substring of the body
	Since, Until   *time.Time
}

func (f MessageFilter) apply(q *gorm.DB) *gorm.DB {
	q = byIDs(q, f.IDs)
	for _, eq := range [][2]string{
		{"status", f.Status}, {"direction", f.Direction}, {"channel", f.Channel},
		{"conversation_id", f.ConversationID}, {"contact_id", f.ContactID}, {"error_code", f.ErrorCode},
	} {
		if eq[1] != "" {
			q = q.Where(eq[0]+" = ?", eq[1])
		}
	}
	if f.ContactID != "" && f.Owned {
		q = ownedBy(q, "contacts", f.ContactID)
	}
	if f.Q != "" {
		q = q.Where(`search LIKE ? ESCAPE '\'`, likeContains(strings.ToLower(f.Q)))
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", models.NewTime(*f.Since))
	}
	if f.Until != nil {
		q = q.Where("created_at < ?", models.NewTime(*f.Until))
	}
	return q
}

// Messages lists messages, newest updatedAt first.
func (db *DB) Messages(ctx context.Context, f MessageFilter, p Page) ([]models.Message, bool, error) {
	return list[models.Message](f.apply(db.mirrorRows(ctx, &models.Message{})), byUpdated, p, "messages")
}

// ExportMessages is ExportContacts for messages.
func (db *DB) ExportMessages(ctx context.Context, f MessageFilter, fn func(context.Context, []models.Message) error) error {
	return export(ctx, db, &models.Message{}, f.apply, byUpdated, MessageKey, "messages", fn)
}

// byCreated is a conversation's messages' order: oldest first.
var byCreated = order{column: "created_at"}

// ConversationMessages lists a conversation's messages, oldest first;
// none unless the mirror holds the conversation.
func (db *DB) ConversationMessages(ctx context.Context, conversationID string, ids []string, p Page) ([]models.Message, bool, error) {
	return list[models.Message](conversationMessages(conversationID, ids)(db.mirrorRows(ctx, &models.Message{})), byCreated, p, "conversation messages")
}

// ExportConversationMessages is ExportContacts for a conversation's messages.
func (db *DB) ExportConversationMessages(ctx context.Context, conversationID string, ids []string, fn func(context.Context, []models.Message) error) error {
	return export(ctx, db, &models.Message{}, conversationMessages(conversationID, ids), byCreated, MessageCreatedKey, "conversation messages", fn)
}

func conversationMessages(conversationID string, ids []string) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		return byIDs(ownedBy(q.Where("conversation_id = ?", conversationID), "conversations", conversationID), ids)
	}
}

// ownedBy narrows q to nothing unless table holds the row id. A list
// under a contact or conversation answers 404 when its owner is missing;
// with this guard it asks whether the owner exists only when the list
// comes back empty, instead of before every list.
func ownedBy(q *gorm.DB, table, id string) *gorm.DB {
	return q.Where("EXISTS (SELECT 1 FROM "+table+" o WHERE o.id = ?)", id)
}

// Message reads one message.
func (db *DB) Message(ctx context.Context, id string) (*models.Message, error) {
	return get[models.Message](ctx, db, id, "message")
}

// WorkflowRunFilter narrows a workflow run list.
type WorkflowRunFilter struct {
	IDs        []string
	WorkflowID string
	ContactID  string
}

var byTriggered = order{column: "triggered_at", desc: true}

func (f WorkflowRunFilter) apply(q *gorm.DB) *gorm.DB {
	q = byIDs(q, f.IDs)
	if f.WorkflowID != "" {
		q = q.Where("workflow_id = ?", f.WorkflowID)
	}
	if f.ContactID != "" {
		q = q.Where("contact_id = ?", f.ContactID)
	}
	return q
}

// WorkflowRuns lists runs, newest triggeredAt first.
func (db *DB) WorkflowRuns(ctx context.Context, f WorkflowRunFilter, p Page) ([]models.WorkflowRun, bool, error) {
	return list[models.WorkflowRun](f.apply(db.mirrorRows(ctx, &models.WorkflowRun{})), byTriggered, p, "workflow runs")
}

// ExportWorkflowRuns is ExportContacts for workflow runs.
func (db *DB) ExportWorkflowRuns(ctx context.Context, f WorkflowRunFilter, fn func(context.Context, []models.WorkflowRun) error) error {
	return export(ctx, db, &models.WorkflowRun{}, f.apply, byTriggered, WorkflowRunKey, "workflow runs", fn)
}

// EventFilter narrows the journal listing. Since is inclusive, on the
// event's createdAt.
type EventFilter struct {
	IDs    []string
	Type   string
	Status string
	Since  *time.Time
}

var byReceived = order{column: "received_at", desc: true}

func (f EventFilter) apply(q *gorm.DB) *gorm.DB {
	q = byIDs(q.Omit("payload"), f.IDs)
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", models.NewTime(*f.Since))
	}
	return q
}

// Events lists journaled events without their payloads, newest receivedAt
// first.
func (db *DB) Events(ctx context.Context, f EventFilter, p Page) ([]models.Event, bool, error) {
	return list[models.Event](f.apply(db.read.WithContext(ctx).Model(&models.Event{})), byReceived, p, "events")
}

// ExportEvents is ExportContacts for the journal (without payloads).
func (db *DB) ExportEvents(ctx context.Context, f EventFilter, fn func(context.Context, []models.Event) error) error {
	return export(ctx, db, &models.Event{}, f.apply, byReceived, EventKey, "events", fn)
}

// Event reads one journaled event with its payload.
func (db *DB) Event(ctx context.Context, id string) (*models.Event, error) {
	return get[models.Event](ctx, db, id, "event")
}
