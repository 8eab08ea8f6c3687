package models

// WorkflowRun is one firing of a BuzzBip workflow.
type WorkflowRun struct {
	ID             string `gorm:"primaryKey"` // the event's runId, else the event id
	WorkflowID     string
	ContactID      *string
	ConversationID *string
	Source         *string
	Versions       Versions
	TriggeredAt    Time
	SyncedAt       Time
	Seq            int64
}
