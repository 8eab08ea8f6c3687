package store

import (
	"slices"
	"strings"

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
	kind    string // its change-feed kind
	slot    int    // where a Tx keeps what it knows of this table's stored rows
	columns []string
	keys    []string
	values  func(row *T, dst []any) []any
	keyOf   func(row *T) []any
	fields  func(row *T) []any
	id      func(row *T) string
	stamp   func(row *T) *stamp // the columns a write sets by itself

	at     []int    // where each of keys is in columns
	upsert []*shape // by the set of keys to write: bit i stands for keys[i]
	insert *shape   // rows the transaction looked for and did not find
	load   *shape
	remove *shape
}

// stamp points at the two columns every row carries about its last write:
// when (syncedAt, our clock) and at which change-feed position.
type stamp struct {
	synced *models.Time
	seq    *int64
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
	t.remove = &shape{head: "DELETE FROM " + t.name + " WHERE id IN (", tail: ")"}
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

// The slots of one set of tables in a Tx.
const (
	contactsSlot = iota
	conversationsSlot
	messagesSlot
	workflowRunsSlot
	tableSlots
)

// tableSet is one whole mirror: the live tables, or the shadow tables a
// rebuild fills before it swaps them in.
type tableSet struct {
	prefix        string
	shadow        bool
	contacts      *table[models.Contact]
	conversations *table[models.Conversation]
	messages      *table[models.Message]
	workflowRuns  *table[models.WorkflowRun]
	contactTags   string
	clearTags     *shape
	insertTags    *shape
	aggregates    *shape
}

// The two sets. A Tx keeps what it knows of each in slots of its own.
var (
	liveTables   = newTableSet("", 0)
	shadowTables = newTableSet(shadowPrefix, tableSlots)
)

// shadowPrefix names the tables a rebuild fills.
const shadowPrefix = "rebuild_"

// mirrorTables lists the mirror's tables, in the order a rebuild swaps them.
var mirrorTables = []string{"contacts", "contact_tags", "conversations", "messages", "workflow_runs"}

// sqliteMirrorTables adds, on SQLite, the trigram index of contacts' q
// (grams.go): a rebuild fills, swaps and drops it with the tables.
var sqliteMirrorTables = append(slices.Clone(mirrorTables), "contacts_grams")

// isGramTable tells a trigram index among sqliteMirrorTables.
func isGramTable(name string) bool { return strings.HasSuffix(name, "_grams") }

// mirrorTablesOf is the mirror's tables on driver.
func mirrorTablesOf(driver string) []string {
	if driver == DriverSQLite {
		return sqliteMirrorTables
	}
	return mirrorTables
}

func newTableSet(prefix string, slot0 int) *tableSet {
	s := &tableSet{prefix: prefix, shadow: prefix != "", contactTags: prefix + "contact_tags"}
	s.contacts = (&table[models.Contact]{
		name: prefix + "contacts", kind: KindContact, slot: slot0 + contactsSlot,
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
		id:    func(c *models.Contact) string { return c.ID },
		stamp: func(c *models.Contact) *stamp { return &stamp{&c.SyncedAt, &c.Seq} },
	}).init()
	s.conversations = (&table[models.Conversation]{
		name: prefix + "conversations", kind: KindConversation, slot: slot0 + conversationsSlot,
		columns: []string{"id", "contact_id", "channel", "status", "opened_at", "resolved_at", "last_message_at", "message_count",
			"versions", "created_at", "updated_at", "synced_at", "seq", "last_inbound_at", "last_outbound_at", "awaiting_reply"},
		keys: []string{"contact_id", "updated_at", "awaiting_reply"},
		keyOf: func(c *models.Conversation) []any {
			return []any{orNull(c.ContactID), timeValue(c.UpdatedAt), c.AwaitingReply}
		},
		values: func(c *models.Conversation, dst []any) []any {
			return append(dst, c.ID, orNull(c.ContactID), orNull(c.Channel), c.Status,
				optTime(c.OpenedAt), optTime(c.ResolvedAt), optTime(c.LastMessageAt), c.MessageCount,
				c.Versions.Encode(), timeValue(c.CreatedAt), timeValue(c.UpdatedAt), timeValue(c.SyncedAt), c.Seq,
				optTime(c.LastInboundAt), optTime(c.LastOutboundAt), c.AwaitingReply)
		},
		fields: func(c *models.Conversation) []any {
			return []any{&c.ID, &c.ContactID, &c.Channel, &c.Status, &c.OpenedAt, &c.ResolvedAt, &c.LastMessageAt, &c.MessageCount,
				&c.Versions, &c.CreatedAt, &c.UpdatedAt, &c.SyncedAt, &c.Seq, &c.LastInboundAt, &c.LastOutboundAt, &c.AwaitingReply}
		},
		id:    func(c *models.Conversation) string { return c.ID },
		stamp: func(c *models.Conversation) *stamp { return &stamp{&c.SyncedAt, &c.Seq} },
	}).init()
	s.messages = (&table[models.Message]{
		name: prefix + "messages", kind: KindMessage, slot: slot0 + messagesSlot,
		columns: []string{"id", "conversation_id", "contact_id", "channel", "direction", "status", "body", "from_addr", "to_addr", "error",
			"versions", "created_at", "updated_at", "synced_at", "seq", "inbound_at", "outbound_at", "error_code", "search"},
		keys: []string{"conversation_id", "contact_id", "created_at", "updated_at", "error_code"},
		keyOf: func(m *models.Message) []any {
			return []any{m.ConversationID, orNull(m.ContactID), timeValue(m.CreatedAt), timeValue(m.UpdatedAt), orNull(m.ErrorCode)}
		},
		values: func(m *models.Message, dst []any) []any {
			return append(dst, m.ID, m.ConversationID, orNull(m.ContactID), orNull(m.Channel), m.Direction, m.Status,
				orNull(m.Body), orNull(m.From), orNull(m.To), jsonOrNull(m.Error),
				m.Versions.Encode(), timeValue(m.CreatedAt), timeValue(m.UpdatedAt), timeValue(m.SyncedAt), m.Seq,
				optTime(m.InboundAt), optTime(m.OutboundAt), orNull(m.ErrorCode), orNull(m.Search))
		},
		fields: func(m *models.Message) []any {
			return []any{&m.ID, &m.ConversationID, &m.ContactID, &m.Channel, &m.Direction, &m.Status, &m.Body, &m.From, &m.To, &m.Error,
				&m.Versions, &m.CreatedAt, &m.UpdatedAt, &m.SyncedAt, &m.Seq, &m.InboundAt, &m.OutboundAt, &m.ErrorCode, &m.Search}
		},
		id:    func(m *models.Message) string { return m.ID },
		stamp: func(m *models.Message) *stamp { return &stamp{&m.SyncedAt, &m.Seq} },
	}).init()
	s.workflowRuns = (&table[models.WorkflowRun]{
		name: prefix + "workflow_runs", kind: KindWorkflowRun, slot: slot0 + workflowRunsSlot,
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
		id:    func(r *models.WorkflowRun) string { return r.ID },
		stamp: func(r *models.WorkflowRun) *stamp { return &stamp{&r.SyncedAt, &r.Seq} },
	}).init()
	s.clearTags = &shape{head: "DELETE FROM " + s.contactTags + " WHERE contact_id IN (", tail: ")"}
	s.insertTags = &shape{head: "INSERT INTO " + s.contactTags + " (contact_id, tag) VALUES ", width: 2}
	s.aggregates = &shape{
		head: "SELECT conversation_id, COUNT(*), MAX(created_at), MAX(inbound_at), MAX(outbound_at) FROM " + s.messages.name +
			" WHERE conversation_id IN (",
		tail: ") GROUP BY conversation_id",
	}
	return s
}

// The journal insert answers the ids it stored; a stored id is skipped.
var eventColumns = []string{"id", "type", "status", "error", "created_at", "received_at", "payload"}

var insertEvents = &shape{
	head:  "INSERT INTO events (id, type, status, error, created_at, received_at, payload) VALUES ",
	tail:  " ON CONFLICT (id) DO NOTHING RETURNING id",
	width: len(eventColumns),
}

// markApplied records the projector's outcome for many events at once.
var markApplied = &shape{head: "UPDATE events SET status = 'applied', error = NULL WHERE id IN (", tail: ")"}

func eventValues(e *models.Event, dst []any) []any {
	return append(dst, e.ID, e.Type, string(e.Status), orNull(e.Error), timeValue(e.CreatedAt), timeValue(e.ReceivedAt), e.Payload)
}

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
