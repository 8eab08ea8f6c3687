package models

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestFormatTimeMatchesLayout checks the hand-written formatter against
// time.Format over years 0000 to 10000.
func TestFormatTimeMatchesLayout(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tm := time.Unix(rapid.Int64Range(-62135596800-86400*400, 253402300799+86400*400).Draw(t, "sec"),
			rapid.Int64Range(0, 999_999_999).Draw(t, "nsec"))
		if got, want := FormatTime(tm), tm.UTC().Format(timeLayout); got != want {
			t.Fatalf("FormatTime(%v) = %s, want %s", tm, got, want)
		}
	})
}

// TestParseTimeRoundTrip reads back what FormatTime writes.
func TestParseTimeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tm := time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"),
			rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")).UTC()
		got, err := ParseTime(FormatTime(tm))
		if err != nil || !got.Equal(tm) || got.Location() != time.UTC {
			t.Fatalf("ParseTime(FormatTime(%v)) = %v, %v", tm, got, err)
		}
	})
}

// FuzzParseTime checks the hand-written parser against time.Parse.
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{
		"2026-06-01T10:00:00.000000000Z", "0001-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z",
		"2026-02-30T10:00:00.000000000Z", "2026-06-01T24:00:00.000000000Z", "2026-06-01 10:00:00.000000000Z",
		"2026-06-01T10:00:60.000000000Z", "2026-13-01T10:00:00.000000000Z", "+026-06-01T10:00:00.000000000Z",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		want, wantErr := time.Parse(timeLayout, s)
		if (err == nil) != (wantErr == nil) || (err == nil && !got.Equal(want)) {
			t.Fatalf("ParseTime(%q) = %v, %v; time.Parse says %v, %v", s, got, err, want, wantErr)
		}
	})
}
