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
