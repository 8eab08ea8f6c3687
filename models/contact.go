package models

// Contact is a BuzzBip Audience member as the mirror sees it.
type Contact struct {
	ID        string  `gorm:"primaryKey"`
	Phone     *string // from contact events; a stub takes the from of its newest inbound message
	PhoneNorm *string // Phone without spaces, dashes, dots and parentheses, for the phone filter
	Name      *string
	Email     *string
	EmailNorm *string // Email in lower case, for the email filter
	Search    string  // name, phone and email in lower case, one a line, for the q filter
	Tags      JSON    // array of strings, never NULL
	Fields    JSON    // object of custom fields, never NULL
	Extra     JSON    // object of the contact events' unmapped data keys, never NULL
	Versions  Versions
	CreatedAt Time
	UpdatedAt Time
	SyncedAt  Time
	Seq       int64 // change-feed position of the row's latest change
}

// ContactTag indexes a contact's tags so the tag filter needs no JSON
// functions, which differ between SQLite and Postgres.
type ContactTag struct {
	ContactID string `gorm:"primaryKey"`
	Tag       string `gorm:"primaryKey"`
}
