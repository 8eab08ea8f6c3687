// Package models holds the rows buzzmirror stores and the domain enums. It
// imports nothing of ours, so every other layer may depend on it.
package models

import "errors"

// ErrNotFound is returned by the store when a row with the asked id does not
// exist. The API turns it into a 404.
var ErrNotFound = errors.New("not found")

// EventStatus is what became of an event in the journal.
type EventStatus string

// The journal statuses, as the REST API shows them.
const (
	EventPending EventStatus = "pending" // journaled, waiting for the projector
	EventApplied EventStatus = "applied" // projected into the mirror
	EventIgnored EventStatus = "ignored" // unknown type: kept, not applied
	EventFailed  EventStatus = "failed"  // unusable data (quarantined), or the projection could not apply it
	EventErased  EventStatus = "erased"  // named a person who was erased: only id, type and times are kept
)

// EventStatuses lists every journal status, in the order the API documents them.
var EventStatuses = []EventStatus{EventPending, EventApplied, EventIgnored, EventFailed, EventErased}

// Event types BuzzBip sends.
const (
	TypeMessageReceived      = "message.received"
	TypeMessageSent          = "message.sent"
	TypeMessageFailed        = "message.failed"
	TypeConversationOpened   = "conversation.opened"
	TypeConversationResolved = "conversation.resolved"
	TypeContactCreated       = "contact.created"
	TypeContactUpdated       = "contact.updated"
	TypeWorkflowTriggered    = "workflow.triggered"
)

// EventTypes lists every event type the projection understands.
var EventTypes = []string{
	TypeMessageReceived, TypeMessageSent, TypeMessageFailed,
	TypeConversationOpened, TypeConversationResolved,
	TypeContactCreated, TypeContactUpdated, TypeWorkflowTriggered,
}

// Conversation statuses.
const (
	ConversationOpen     = "open"
	ConversationResolved = "resolved"
)

// Message statuses and directions.
const (
	MessageReceived = "received"
	MessageSent     = "sent"
	MessageFailed   = "failed"

	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
)
