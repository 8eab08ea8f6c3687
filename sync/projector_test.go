package sync

import (
	"testing"
	"time"
)

func TestRestAfter(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		took, held time.Duration
		share      float64
		want       time.Duration
	}{
		{10 * ms, 10 * ms, 1, 0},         // Postgres: no rest
		{10 * ms, 10 * ms, 0.5, 10 * ms}, // all of the step held the lock
		{15 * ms, 9 * ms, 0.1, 75 * ms},  // the planning counts as rest: 9 of 90 ms
		{10 * ms, 4 * ms, 0.5, 0},        // planning alone took more than the rest needed
		{0, 0, 0.1, 0},                   // nothing held
	} {
		st := StepStats{Took: c.took, Held: c.held}
		if got := restAfter(st, c.share); got != c.want {
			t.Errorf("restAfter(took %v, held %v, share %v) = %v, want %v", c.took, c.held, c.share, got, c.want)
		}
	}
}
