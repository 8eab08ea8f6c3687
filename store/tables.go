package store

import (
	"github.com/buzzmirror/buzzmirror/models"
)

// table is how the writer reads and writes one mirror table without GORM:
// its columns, a row's values in their order (as plain driver values, so
// database/sql converts nothing), and the addresses a scanned row fills.
// TestTablesMatchModels checks the columns against GORM's schema of T.
type table[T any] struct {
	name    string
	columns []string
	values  func(row *T, dst []any) []any
	fields  func(row *T) []any
	id      func(row *T) string
	upsert  *shape
	load    *shape
}

func newTable[T any](name string, columns []string, values func(*T, []any) []any, fields func(*T) []any, id func(*T) string) *table[T] {
	return &table[T]{
		name: name, columns: columns, values: values, fields: fields, id: id,
		upsert: upsertShape(name, columns), load: selectShape(name, columns),
	}
}

var contactsTable = newTable("contacts",
	[]string{"id", "phone", "phone_norm", "name", "email", "email_norm", "search", "tags", "fields", "extra",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	func(c *models.Contact, dst []any) []any {
		return append(dst, c.ID, orNull(c.Phone), orNull(c.PhoneNorm), orNull(c.Name), orNull(c.Email), orNull(c.EmailNorm),
			c.Search, jsonOrNull(c.Tags), jsonOrNull(c.Fields), jsonOrNull(c.Extra),
			c.Versions.Encode(), timeValue(c.CreatedAt), timeValue(c.UpdatedAt), timeValue(c.SyncedAt), c.Seq)
	},
	func(c *models.Contact) []any {
		return []any{&c.ID, &c.Phone, &c.PhoneNorm, &c.Name, &c.Email, &c.EmailNorm, &c.Search, &c.Tags, &c.Fields, &c.Extra,
			&c.Versions, &c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.Seq}
	},
	func(c *models.Contact) string { return c.ID },
)

var conversationsTable = newTable("conversations",
	[]string{"id", "contact_id", "channel", "status", "opened_at", "resolved_at", "last_message_at", "message_count",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	func(c *models.Conversation, dst []any) []any {
		return append(dst, c.ID, orNull(c.ContactID), orNull(c.Channel), c.Status,
			optTime(c.OpenedAt), optTime(c.ResolvedAt), optTime(c.LastMessageAt), c.MessageCount,
			c.Versions.Encode(), timeValue(c.CreatedAt), timeValue(c.UpdatedAt), timeValue(c.SyncedAt), c.Seq)
	},
	func(c *models.Conversation) []any {
		return []any{&c.ID, &c.ContactID, &c.Channel, &c.Status, &c.OpenedAt, &c.ResolvedAt, &c.LastMessageAt, &c.MessageCount,
			&c.Versions, &c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.Seq}
	},
	func(c *models.Conversation) string { return c.ID },
)

var messagesTable = newTable("messages",
	[]string{"id", "conversation_id", "contact_id", "channel", "direction", "status", "body", "from_addr", "to_addr", "error",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	func(m *models.Message, dst []any) []any {
		return append(dst, m.ID, m.ConversationID, orNull(m.ContactID), orNull(m.Channel), m.Direction, m.Status,
			orNull(m.Body), orNull(m.From), orNull(m.To), jsonOrNull(m.Error),
			m.Versions.Encode(), timeValue(m.CreatedAt), timeValue(m.UpdatedAt), timeValue(m.SyncedAt), m.Seq)
	},
	func(m *models.Message) []any {
		return []any{&m.ID, &m.ConversationID, &m.ContactID, &m.Channel, &m.Direction, &m.Status, &m.Body, &m.From, &m.To, &m.Error,
			&m.Versions, &m.CreatedAt, &m.UpdatedAt, &m.SyncedAt, &m.Seq}
	},
	func(m *models.Message) string { return m.ID },
)

var workflowRunsTable = newTable("workflow_runs",
	[]string{"id", "workflow_id", "contact_id", "conversation_id", "source", "versions", "triggered_at", "synced_at", "seq"},
	func(r *models.WorkflowRun, dst []any) []any {
		return append(dst, r.ID, r.WorkflowID, orNull(r.ContactID), orNull(r.ConversationID), orNull(r.Source),
			r.Versions.Encode(), timeValue(r.TriggeredAt), timeValue(r.SyncedAt), r.Seq)
	},
	func(r *models.WorkflowRun) []any {
		return []any{&r.ID, &r.WorkflowID, &r.ContactID, &r.ConversationID, &r.Source, &r.Versions, &r.TriggeredAt, &r.SyncedAt, &r.Seq}
	},
	func(r *models.WorkflowRun) string { return r.ID },
)

// The journal insert answers the ids it stored; a stored id is skipped.
var eventColumns = []string{"id", "type", "status", "error", "created_at", "received_at", "payload"}

var insertEvents = &shape{
	head:  "INSERT INTO events (id, type, status, error, created_at, received_at, payload) VALUES ",
	tail:  " ON CONFLICT (id) DO NOTHING RETURNING id",
	width: len(eventColumns),
}

func eventValues(e *models.Event, dst []any) []any {
	return append(dst, e.ID, e.Type, string(e.Status), orNull(e.Error), timeValue(e.CreatedAt), timeValue(e.ReceivedAt), e.Payload)
}

var (
	clearTags  = &shape{head: "DELETE FROM contact_tags WHERE contact_id IN (", tail: ")"}
	insertTags = &shape{head: "INSERT INTO contact_tags (contact_id, tag) VALUES ", width: 2}
)

func orNull(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func jsonOrNull(j models.JSON) any {
	if j == nil {
		return nil
	}
	return string(j)
}

func timeValue(t models.Time) any { return models.FormatTime(t.Time) }

func optTime(t *models.Time) any {
	if t == nil {
		return nil
	}
	return models.FormatTime(t.Time)
}
