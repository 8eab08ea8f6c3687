package models

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestTimeTextSortsLikeTime checks the property the stored layout exists
// for: comparing two stored texts orders them as their instants, over
// years 0001 to 9999, and the text reads back to the same instant.
func TestTimeTextSortsLikeTime(t *testing.T) {
	instant := rapid.Custom(func(t *rapid.T) time.Time {
		return time.Unix(rapid.Int64Range(-62135596800, 253402300799).Draw(t, "sec"),
			rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")).UTC()
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b := instant.Draw(t, "a"), instant.Draw(t, "b")
		ta, tb := FormatTime(a), FormatTime(b)
		if (ta < tb) != a.Before(b) || (ta == tb) != a.Equal(b) {
			t.Fatalf("%s and %s do not sort like %v and %v", ta, tb, a, b)
		}
		back, err := ParseTime(ta)
		if err != nil || !back.Equal(a) {
			t.Fatalf("ParseTime(%s) = %v, %v; want %v", ta, back, err, a)
		}
	})
}
