package models

// Message is one WhatsApp message, inbound or outbound.
type Message struct {
	ID             string `gorm:"primaryKey"`
	ConversationID string
	ContactID      *string
	Channel        *string
	Direction      string // DirectionInbound once a message.received exists for the id
	Status         string // MessageReceived, MessageSent or MessageFailed
	Body           *string
	From           *string `gorm:"column:from_addr"`
	To             *string `gorm:"column:to_addr"`
	Error          JSON    // {"code","message"} of the newest event, a message.failed; NULL unless Status is failed
	Versions       Versions
	CreatedAt      Time
	UpdatedAt      Time
	SyncedAt       Time
	Seq            int64
	InboundAt      *Time   // greatest createdAt of its message.received events
	OutboundAt     *Time   // greatest createdAt of its message.sent events
	ErrorCode      *string // Error's code, for the errorCode filter
	Search         *string // Body in lower case, for the q filter
}
