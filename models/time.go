package models

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// timeLayout is fixed-width so that the text sorts like the instant it names,
// in SQL on both dialects, with full nanosecond precision. Postgres
// timestamptz would round to microseconds and reorder close events.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Time is an instant stored as fixed-width UTC text.
type Time struct{ time.Time }

// NewTime wraps t, normalised to UTC.
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// FormatTime renders t in the stored, sortable layout.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// ParseTime reads the stored layout back.
func ParseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) { return FormatTime(t.Time), nil }

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case time.Time:
		t.Time = v.UTC()
		return nil
	default:
		return fmt.Errorf("models: cannot scan %T into Time", src)
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return fmt.Errorf("models: scan time %q: %w", s, err)
	}
	t.Time = parsed
	return nil
}

// GormDataType keeps GORM from treating the field as a time it may set itself.
func (Time) GormDataType() string { return "string" }
