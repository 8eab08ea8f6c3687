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

// FormatTime renders t in the stored, sortable layout. The writer formats
// three or four times for every row it writes, so the digits are written
// here instead of by time.Format's layout interpreter.
func FormatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, minute, second := t.Clock()
	b := []byte(timeLayout)
	digits := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	digits(0, 4, year)
	digits(5, 2, int(month))
	digits(8, 2, day)
	digits(11, 2, hour)
	digits(14, 2, minute)
	digits(17, 2, second)
	digits(20, 9, t.Nanosecond())
	return string(b)
}

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
