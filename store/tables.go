package store

import (
	"slices"

	"github.com/buzzmirror/buzzmirror/models"
)

// table is how the writer reads and writes one mirror table without GORM:
// its columns, a row's values in their order (as plain driver values, so
// database/sql converts nothing), and the addresses a scanned row fills.
// TestTablesMatchModels checks the columns against GORM's schema of T.
//
// SQLite rewrites the index entries of every column an UPDATE sets, even
// to the value it had: a row whose contact_id stayed the same still cost a
// delete and an insert in conversations_contact, a random page each. So
// the writer remembers the indexed values of the rows it loaded, and sets
// an indexed column of a stored row only when it changed. keys lists
// those columns (seq changes with every write and is always set); keyOf
// reads them from a loaded row, in that order, as values would.
type table[T any] struct {
	name    string
	slot    int // where a Tx keeps what it knows of this table's stored rows
	columns []string
	keys    []string
	values  func(row *T, dst []any) []any
	keyOf   func(row *T) []any
	fields  func(row *T) []any
	id      func(row *T) string

	at     []int    // where each of keys is in columns
	upsert []*shape // by the set of keys to write: bit i stands for keys[i]
	insert *shape   // rows the transaction looked for and did not find
	load   *shape
}

func (t *table[T]) init() *table[T] {
	for _, k := range t.keys {
		i := slices.Index(t.columns, k)
		if i <= 0 {
			panic("store: key column " + k + " is not a column of " + t.name)
		}
		t.at = append(t.at, i)
	}
	t.upsert = make([]*shape, 1<<len(t.keys))
	for mask := range t.upsert {
		set := make([]string, 0, len(t.columns))
		for i, c := range t.columns[1:] {
			if k := slices.Index(t.at, i+1); k < 0 || mask&(1<<k) != 0 {
				set = append(set, c)
			}
		}
		t.upsert[mask] = upsertShape(t.name, t.columns, set)
	}
	t.insert = insertShape(t.name, t.columns)
	t.load = selectShape(t.name, t.columns)
	return t
}

// allKeys is the mask of a row the Tx knows nothing of: every column is set.
func (t *table[T]) allKeys() int { return len(t.upsert) - 1 }

// changed is the mask of the keys whose values differ from stored, what
// the database holds for the row.
func (t *table[T]) changed(stored, keys []any) int {
	if stored == nil {
		return t.allKeys()
	}
	mask := 0
	for i := range keys {
		if keys[i] != stored[i] {
			mask |= 1 << i
		}
	}
	return mask
}

// keysIn picks the keys out of a row's values.
func (t *table[T]) keysIn(vals []any) []any {
	keys := make([]any, len(t.at))
	for i, at := range t.at {
		keys[i] = vals[at]
	}
	return keys
}

// The slots of the tables in a Tx.
const (
	contactsSlot = iota
	conversationsSlot
	messagesSlot
	workflowRunsSlot
	tableSlots
)

var contactsTable = (&table[models.Contact]{
	name: "contacts", slot: contactsSlot,
	columns: []string{"id", "phone", "phone_norm", "name", "email", "email_norm", "search", "tags", "fields", "extra",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	keys: []string{"phone_norm", "email_norm", "updated_at"},
	keyOf: func(c *models.Contact) []any {
		return []any{orNull(c.PhoneNorm), orNull(c.EmailNorm), timeValue(c.UpdatedAt)}
	},
	values: func(c *models.Contact, dst []any) []any {
		return append(dst, c.ID, orNull(c.Phone), orNull(c.PhoneNorm), orNull(c.Name), orNull(c.Email), orNull(c.EmailNorm),
			c.Search, jsonOrNull(c.Tags), jsonOrNull(c.Fields), jsonOrNull(c.Extra),
			c.Versions.Encode(), timeValue(c.CreatedAt), timeValue(c.UpdatedAt), timeValue(c.SyncedAt), c.Seq)
	},
	fields: func(c *models.Contact) []any {
		return []any{&c.ID, &c.Phone, &c.PhoneNorm, &c.Name, &c.Email, &c.EmailNorm, &c.Search, &c.Tags, &c.Fields, &c.Extra,
			&c.Versions, &c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.Seq}
	},
	id: func(c *models.Contact) string { return c.ID },
}).init()

var conversationsTable = (&table[models.Conversation]{
	name: "conversations", slot: conversationsSlot,
	columns: []string{"id", "contact_id", "channel", "status", "opened_at", "resolved_at", "last_message_at", "message_count",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	keys:  []string{"contact_id", "updated_at"},
	keyOf: func(c *models.Conversation) []any { return []any{orNull(c.ContactID), timeValue(c.UpdatedAt)} },
	values: func(c *models.Conversation, dst []any) []any {
		return append(dst, c.ID, orNull(c.ContactID), orNull(c.Channel), c.Status,
			optTime(c.OpenedAt), optTime(c.ResolvedAt), optTime(c.LastMessageAt), c.MessageCount,
			c.Versions.Encode(), timeValue(c.CreatedAt), timeValue(c.UpdatedAt), timeValue(c.SyncedAt), c.Seq)
	},
	fields: func(c *models.Conversation) []any {
		return []any{&c.ID, &c.ContactID, &c.Channel, &c.Status, &c.OpenedAt, &c.ResolvedAt, &c.LastMessageAt, &c.MessageCount,
			&c.Versions, &c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.Seq}
	},
	id: func(c *models.Conversation) string { return c.ID },
}).init()

var messagesTable = (&table[models.Message]{
	name: "messages", slot: messagesSlot,
	columns: []string{"id", "conversation_id", "contact_id", "channel", "direction", "status", "body", "from_addr", "to_addr", "error",
		"versions", "created_at", "updated_at", "synced_at", "seq"},
	keys: []string{"conversation_id", "contact_id", "created_at", "updated_at"},
	keyOf: func(m *models.Message) []any {
		return []any{m.ConversationID, orNull(m.ContactID), timeValue(m.CreatedAt), timeValue(m.UpdatedAt)}
	},
	values: func(m *models.Message, dst []any) []any {
		return append(dst, m.ID, m.ConversationID, orNull(m.ContactID), orNull(m.Channel), m.Direction, m.Status,
			orNull(m.Body), orNull(m.From), orNull(m.To), jsonOrNull(m.Error),
			m.Versions.Encode(), timeValue(m.CreatedAt), timeValue(m.UpdatedAt), timeValue(m.SyncedAt), m.Seq)
	},
	fields: func(m *models.Message) []any {
		return []any{&m.ID, &m.ConversationID, &m.ContactID, &m.Channel, &m.Direction, &m.Status, &m.Body, &m.From, &m.To, &m.Error,
			&m.Versions, &m.CreatedAt, &m.UpdatedAt, &m.SyncedAt, &m.Seq}
	},
	id: func(m *models.Message) string { return m.ID },
}).init()

var workflowRunsTable = (&table[models.WorkflowRun]{
	name: "workflow_runs", slot: workflowRunsSlot,
	columns: []string{"id", "workflow_id", "contact_id", "conversation_id", "source", "versions", "triggered_at", "synced_at", "seq"},
	keys:    []string{"workflow_id", "contact_id", "triggered_at"},
	keyOf: func(r *models.WorkflowRun) []any {
		return []any{r.WorkflowID, orNull(r.ContactID), timeValue(r.TriggeredAt)}
	},
	values: func(r *models.WorkflowRun, dst []any) []any {
		return append(dst, r.ID, r.WorkflowID, orNull(r.ContactID), orNull(r.ConversationID), orNull(r.Source),
			r.Versions.Encode(), timeValue(r.TriggeredAt), timeValue(r.SyncedAt), r.Seq)
	},
	fields: func(r *models.WorkflowRun) []any {
		return []any{&r.ID, &r.WorkflowID, &r.ContactID, &r.ConversationID, &r.Source, &r.Versions, &r.TriggeredAt, &r.SyncedAt, &r.Seq}
	},
	id: func(r *models.WorkflowRun) string { return r.ID },
}).init()

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
