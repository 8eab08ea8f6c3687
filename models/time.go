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

// ParseTime reads the stored layout back. Like FormatTime it reads the
// digits itself (the writer parses three times for each row it loads), and
// leaves anything but well-formed stored text to time.Parse.
func ParseTime(s string) (time.Time, error) {
	if len(s) != len(timeLayout) {
		return time.Parse(timeLayout, s)
	}
	var v [7]int
	at := [7][2]int{{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}, {20, 9}}
	for i, f := range at {
		for _, c := range []byte(s[f[0] : f[0]+f[1]]) {
			if c < '0' || c > '9' {
				return time.Parse(timeLayout, s)
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	for _, i := range []int{4, 7, 10, 13, 16, 19, 29} {
		if s[i] != timeLayout[i] {
			return time.Parse(timeLayout, s)
		}
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6], time.UTC)
	if t.Month() != time.Month(v[1]) || t.Day() != v[2] || t.Hour() != v[3] || t.Minute() != v[4] || t.Second() != v[5] {
		return time.Parse(timeLayout, s) // out of range: time.Parse says how
	}
	return t, nil
}

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
