package store

import (
	"context"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
)

// ContactFilter narrows a contact list; zero fields do not filter.
type ContactFilter struct {
	Phone        string   // compared after NormalizePhone on both sides
	Email        string   // case-insensitive
	Tags         []string // all must match
	Q            string   // case-insensitive substring of name, phone or email
	UpdatedSince *time.Time
}

var byUpdated = order{column: "updated_at", desc: true}

// Contacts lists contacts, newest updatedAt first.
func (db *DB) Contacts(ctx context.Context, f ContactFilter, p Page) ([]models.Contact, bool, error) {
	q := db.mirrorRows(ctx, &models.Contact{})
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
		q = q.Where(`search LIKE ? ESCAPE '\'`, likeContains(strings.ToLower(f.Q)))
	}
	if f.UpdatedSince != nil {
		q = q.Where("updated_at >= ?", models.NewTime(*f.UpdatedSince))
	}
	return list[models.Contact](q, byUpdated, p, "contacts")
}

// Contact reads one contact.
func (db *DB) Contact(ctx context.Context, id string) (*models.Contact, error) {
	return get[models.Contact](ctx, db, id, "contact")
}

// ConversationFilter narrows a conversation list.
type ConversationFilter struct {
	Status       string
	ContactID    string
	Channel      string
	UpdatedSince *time.Time
}

// Conversations lists conversations, newest updatedAt first.
func (db *DB) Conversations(ctx context.Context, f ConversationFilter, p Page) ([]models.Conversation, bool, error) {
	q := db.mirrorRows(ctx, &models.Conversation{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.ContactID != "" {
		q = q.Where("contact_id = ?", f.ContactID)
	}
	if f.Channel != "" {
		q = q.Where("channel = ?", f.Channel)
	}
	if f.UpdatedSince != nil {
		q = q.Where("updated_at >= ?", models.NewTime(*f.UpdatedSince))
	}
	return list[models.Conversation](q, byUpdated, p, "conversations")
}

// Conversation reads one conversation.
func (db *DB) Conversation(ctx context.Context, id string) (*models.Conversation, error) {
	return get[models.Conversation](ctx, db, id, "conversation")
}

// MessageFilter narrows a message list. Since is inclusive, Until exclusive,
// both on the message's createdAt.
type MessageFilter struct {
	Status         string
	Direction      string
	Channel        string
	ConversationID string
	ContactID      string
	Since, Until   *time.Time
}

// Messages lists messages, newest updatedAt first.
func (db *DB) Messages(ctx context.Context, f MessageFilter, p Page) ([]models.Message, bool, error) {
	q := db.mirrorRows(ctx, &models.Message{})
	for _, eq := range [][2]string{
		{"status", f.Status}, {"direction", f.Direction}, {"channel", f.Channel},
		{"conversation_id", f.ConversationID}, {"contact_id", f.ContactID},
	} {
		if eq[1] != "" {
			q = q.Where(eq[0]+" = ?", eq[1])
		}
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", models.NewTime(*f.Since))
	}
	if f.Until != nil {
		q = q.Where("created_at < ?", models.NewTime(*f.Until))
	}
	return list[models.Message](q, byUpdated, p, "messages")
}

// ConversationMessages lists a conversation's messages, oldest first.
func (db *DB) ConversationMessages(ctx context.Context, conversationID string, p Page) ([]models.Message, bool, error) {
	q := db.mirrorRows(ctx, &models.Message{}).Where("conversation_id = ?", conversationID)
	return list[models.Message](q, order{column: "created_at"}, p, "conversation messages")
}

// Message reads one message.
func (db *DB) Message(ctx context.Context, id string) (*models.Message, error) {
	return get[models.Message](ctx, db, id, "message")
}

// WorkflowRunFilter narrows a workflow run list.
type WorkflowRunFilter struct {
	WorkflowID string
	ContactID  string
}

// WorkflowRuns lists runs, newest triggeredAt first.
func (db *DB) WorkflowRuns(ctx context.Context, f WorkflowRunFilter, p Page) ([]models.WorkflowRun, bool, error) {
	q := db.mirrorRows(ctx, &models.WorkflowRun{})
	if f.WorkflowID != "" {
		q = q.Where("workflow_id = ?", f.WorkflowID)
	}
	if f.ContactID != "" {
		q = q.Where("contact_id = ?", f.ContactID)
	}
	return list[models.WorkflowRun](q, order{column: "triggered_at", desc: true}, p, "workflow runs")
}

// EventFilter narrows the journal listing. Since is inclusive, on the
// event's createdAt.
type EventFilter struct {
	Type   string
	Status string
	Since  *time.Time
}

// Events lists journaled events without their payloads, newest receivedAt
// first.
func (db *DB) Events(ctx context.Context, f EventFilter, p Page) ([]models.Event, bool, error) {
	q := db.read.WithContext(ctx).Model(&models.Event{}).Omit("payload")
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", models.NewTime(*f.Since))
	}
	return list[models.Event](q, order{column: "received_at", desc: true}, p, "events")
}

// Event reads one journaled event with its payload.
func (db *DB) Event(ctx context.Context, id string) (*models.Event, error) {
	return get[models.Event](ctx, db, id, "event")
}
