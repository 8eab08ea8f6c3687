package models

// Event is one journal row: an event exactly as BuzzBip sent it, with what
// became of it. The id is unique forever, so a retry months later is still a
// duplicate.
type Event struct {
	ID         string `gorm:"primaryKey"`
	Type       string
	Status     EventStatus
	Error      *string // why the event was quarantined, nil otherwise
	CreatedAt  Time    // the envelope's createdAt
	ReceivedAt Time    // when this service first stored it
	Payload    []byte  // the raw request body, byte for byte
}
