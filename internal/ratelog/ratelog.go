// Package ratelog logs a failure that may repeat many times a second (a
// database that is down, a disk that is full, a flood of bad requests)
// once per interval and key, with how often it happened meanwhile, so
// that a full disk does not fill up with the log of its own 503s.
package ratelog

import (
	"context"
	"log/slog"
	stdsync "sync"
	"time"
)

// Limiter logs through log at most once per interval for each key.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	mu       stdsync.Mutex
	keys     map[string]*state
}

type state struct {
	last       time.Time
	suppressed int
}

// New returns a Limiter.
func New(log *slog.Logger, interval time.Duration) *Limiter {
	return &Limiter{log: log, interval: interval, keys: map[string]*state{}}
}

// Log logs msg at level with args unless a line of the same key went out
// less than the interval ago; the line that goes out says how many were
// left out since the last ("suppressed").
func (l *Limiter) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	l.mu.Lock()
	s := l.keys[key]
	if s == nil {
		if len(l.keys) > 1000 { // keys come from code, not input; this is a backstop
			clear(l.keys)
		}
		s = &state{}
		l.keys[key] = s
	}
	now := time.Now()
	if !s.last.IsZero() && now.Sub(s.last) < l.interval {
		s.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.last, s.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Log(ctx, level, msg, args...)
}

// Recovered says, at info, that what key logged has stopped, if it was
// logged at all, and forgets key.
func (l *Limiter) Recovered(ctx context.Context, key, msg string) {
	l.mu.Lock()
	s, ok := l.keys[key]
	delete(l.keys, key)
	l.mu.Unlock()
	if ok {
		l.log.InfoContext(ctx, msg, "suppressed", s.suppressed)
	}
}
