package sync

import (
	"log/slog"
	"time"
)

// repeats logs a failure that may repeat many times a second (a database
// that is down) once per interval, with how often it happened meanwhile,
// instead of once per occurrence: a full disk must not fill up with the
// log of its own 503s.
type repeats struct {
	log      *slog.Logger
	interval time.Duration
	last     time.Time
	count    int // occurrences since the last line
	failing  bool
}

func newRepeats(log *slog.Logger, interval time.Duration) *repeats {
	return &repeats{log: log, interval: interval}
}

// note records one occurrence of msg and err.
func (r *repeats) note(msg string, err error) {
	r.count++
	r.failing = true
	if time.Since(r.last) < r.interval {
		return
	}
	r.log.Error(msg, "err", err, "times", r.count, "since", r.since())
	r.last, r.count = time.Now(), 0
}

// recovered logs msg once after failures, when they stopped.
func (r *repeats) recovered(msg string) {
	if !r.failing {
		return
	}
	r.log.Info(msg, "unlogged_failures", r.count)
	r.failing, r.count, r.last = false, 0, time.Time{}
}

func (r *repeats) since() string {
	if r.last.IsZero() {
		return "first"
	}
	return time.Since(r.last).Round(time.Second).String()
}
