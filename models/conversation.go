package models

// Conversation is a WhatsApp conversation between a contact and the shop.
type Conversation struct {
	ID             string `gorm:"primaryKey"`
	ContactID      *string
	Channel        *string
	Status         string // ConversationOpen or ConversationResolved
	OpenedAt       *Time  // newest conversation.opened
	ResolvedAt     *Time  // newest conversation.resolved while resolved, else nil
	LastMessageAt  *Time  // greatest createdAt among its messages
	MessageCount   int64
	Versions       Versions
	CreatedAt      Time
	UpdatedAt      Time
	SyncedAt       Time
	Seq            int64
	LastInboundAt  *Time // greatest InboundAt among its messages
	LastOutboundAt *Time // greatest OutboundAt among its messages
	AwaitingReply  bool  // open, and the last inbound message is newer than any outbound one
}
