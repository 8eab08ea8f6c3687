package api

import (
	"encoding/json"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// The API's resources are types of their own, so that a stored column never
// reaches a client by accident.

// Contact is the API form of models.Contact.
type Contact struct {
	ID        string          `json:"id"`
	Phone     *string         `json:"phone"`
	Name      *string         `json:"name"`
	Email     *string         `json:"email"`
	Tags      json.RawMessage `json:"tags"`
	Fields    json.RawMessage `json:"fields"`
	Extra     json.RawMessage `json:"extra"`
	CreatedAt models.Time     `json:"createdAt"`
	UpdatedAt models.Time     `json:"updatedAt"`
	SyncedAt  models.Time     `json:"syncedAt"`
}

func toContact(c *models.Contact) Contact {
	return Contact{
		ID: c.ID, Phone: c.Phone, Name: c.Name, Email: c.Email,
		Tags: rawOr(c.Tags, "[]"), Fields: rawOr(c.Fields, "{}"), Extra: rawOr(c.Extra, "{}"),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, SyncedAt: c.SyncedAt,
	}
}

// Conversation is the API form of models.Conversation.
type Conversation struct {
	ID            string       `json:"id"`
	ContactID     *string      `json:"contactId"`
	Channel       *string      `json:"channel"`
	Status        string       `json:"status"`
	OpenedAt      *models.Time `json:"openedAt"`
	ResolvedAt    *models.Time `json:"resolvedAt"`
	LastMessageAt *models.Time `json:"lastMessageAt"`
	MessageCount  int64        `json:"messageCount"`
	CreatedAt     models.Time  `json:"createdAt"`
	UpdatedAt     models.Time  `json:"updatedAt"`
	SyncedAt      models.Time  `json:"syncedAt"`
}

func toConversation(c *models.Conversation) Conversation {
	return Conversation{
		ID: c.ID, ContactID: c.ContactID, Channel: c.Channel, Status: c.Status,
		OpenedAt: c.OpenedAt, ResolvedAt: c.ResolvedAt, LastMessageAt: c.LastMessageAt,
		MessageCount: c.MessageCount, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, SyncedAt: c.SyncedAt,
	}
}

// Message is the API form of models.Message.
type Message struct {
	ID             string          `json:"id"`
	ConversationID string          `json:"conversationId"`
	ContactID      *string         `json:"contactId"`
	Channel        *string         `json:"channel"`
	Direction      string          `json:"direction"`
	Status         string          `json:"status"`
	Body           *string         `json:"body"`
	From           *string         `json:"from"`
	To             *string         `json:"to"`
	Error          json.RawMessage `json:"error"`
	CreatedAt      models.Time     `json:"createdAt"`
	UpdatedAt      models.Time     `json:"updatedAt"`
	SyncedAt       models.Time     `json:"syncedAt"`
}

func toMessage(m *models.Message) Message {
	return Message{
		ID: m.ID, ConversationID: m.ConversationID, ContactID: m.ContactID, Channel: m.Channel,
		Direction: m.Direction, Status: m.Status, Body: m.Body, From: m.From, To: m.To,
		Error: rawOr(m.Error, "null"), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, SyncedAt: m.SyncedAt,
	}
}

// WorkflowRun is the API form of models.WorkflowRun.
type WorkflowRun struct {
	ID             string      `json:"id"`
	WorkflowID     string      `json:"workflowId"`
	ContactID      *string     `json:"contactId"`
	ConversationID *string     `json:"conversationId"`
	Source         *string     `json:"source"`
	TriggeredAt    models.Time `json:"triggeredAt"`
	SyncedAt       models.Time `json:"syncedAt"`
}

func toWorkflowRun(r *models.WorkflowRun) WorkflowRun {
	return WorkflowRun{
		ID: r.ID, WorkflowID: r.WorkflowID, ContactID: r.ContactID, ConversationID: r.ConversationID,
		Source: r.Source, TriggeredAt: r.TriggeredAt, SyncedAt: r.SyncedAt,
	}
}

// Event is the API form of a journal row; Payload only on /v1/events/{id}.
type Event struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Status     models.EventStatus `json:"status"`
	Error      *string            `json:"error"`
	CreatedAt  models.Time        `json:"createdAt"`
	ReceivedAt models.Time        `json:"receivedAt"`
	Payload    json.RawMessage    `json:"payload,omitempty"`
}

func toEvent(e *models.Event, withPayload bool) Event {
	out := Event{ID: e.ID, Type: e.Type, Status: e.Status, Error: e.Error, CreatedAt: e.CreatedAt, ReceivedAt: e.ReceivedAt}
	if withPayload {
		// The journal only holds bodies that parsed as JSON objects, so the
		// raw bytes are sent exactly as BuzzBip sent them.
		out.Payload = e.Payload
	}
	return out
}

// Change is one item of the change feed.
type Change struct {
	Seq    int64  `json:"seq"`
	Type   string `json:"type"`
	ID     string `json:"id"`
	Object any    `json:"object"`
}

func toChange(c store.Change) Change {
	out := Change{Seq: c.Key.Seq, Type: c.Key.Kind, ID: c.Key.ID}
	switch {
	case c.Contact != nil:
		out.Object = toContact(c.Contact)
	case c.Conversation != nil:
		out.Object = toConversation(c.Conversation)
	case c.Message != nil:
		out.Object = toMessage(c.Message)
	case c.WorkflowRun != nil:
		out.Object = toWorkflowRun(c.WorkflowRun)
	}
	return out
}

// Stats is the answer of /v1/stats.
type Stats struct {
	Contacts      int64 `json:"contacts"`
	Conversations struct {
		Open     int64 `json:"open"`
		Resolved int64 `json:"resolved"`
	} `json:"conversations"`
	Messages struct {
		Received int64 `json:"received"`
		Sent     int64 `json:"sent"`
		Failed   int64 `json:"failed"`
	} `json:"messages"`
	WorkflowRuns int64 `json:"workflowRuns"`
	Events       struct {
		Applied            int64 `json:"applied"`
		Ignored            int64 `json:"ignored"`
		Failed             int64 `json:"failed"`
		DuplicatesRejected int64 `json:"duplicatesRejected"`
	} `json:"events"`
	LastEventAt    *models.Time `json:"lastEventAt"`
	LastReceivedAt *models.Time `json:"lastReceivedAt"`
}

func toStats(s *store.Stats, duplicates int64) Stats {
	var out Stats
	out.Contacts, out.WorkflowRuns = s.Contacts, s.WorkflowRuns
	out.Conversations.Open = s.Conversations[models.ConversationOpen]
	out.Conversations.Resolved = s.Conversations[models.ConversationResolved]
	out.Messages.Received = s.Messages[models.MessageReceived]
	out.Messages.Sent = s.Messages[models.MessageSent]
	out.Messages.Failed = s.Messages[models.MessageFailed]
	out.Events.Applied = s.Events[string(models.EventApplied)]
	out.Events.Ignored = s.Events[string(models.EventIgnored)]
	out.Events.Failed = s.Events[string(models.EventFailed)]
	out.Events.DuplicatesRejected = duplicates
	out.LastEventAt, out.LastReceivedAt = s.LastEventAt, s.LastReceivedAt
	return out
}

func rawOr(j models.JSON, fallback string) json.RawMessage {
	if len(j) == 0 {
		return json.RawMessage(fallback)
	}
	return json.RawMessage(j)
}

// listPage is the answer of every list endpoint.
type listPage[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// feedPage is the answer of /v1/changes.
type feedPage struct {
	Data       []Change `json:"data"`
	NextCursor string   `json:"nextCursor"`
	HasMore    bool     `json:"hasMore"`
}
