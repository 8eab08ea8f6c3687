package api

import (
	"errors"
	"io"
	"net/http"

	"golang.org/x/sync/semaphore"
)

// freeBodyBytes is how much of each body is read without asking the
// budget: a real event is a few hundred bytes, and the number of
// connections (max_connections) bounds what these take in all.
const freeBodyBytes = 64 << 10

// bodyBudget bounds the bytes of webhook bodies held in memory at once,
// beyond the first freeBodyBytes of each. Without it, thousands of
// unauthenticated connections each sending most of a 1 MiB body and then
// stalling held gigabytes until they timed out; with it, a body that
// would go past the budget is refused with a 503 at once (and its memory
// freed), while small deliveries, BuzzBip's own, still get through.
type bodyBudget struct {
	sem *semaphore.Weighted
}

func newBodyBudget(bytes int64) *bodyBudget { return &bodyBudget{sem: semaphore.NewWeighted(bytes)} }

// errBudget is the 503 of a body that would go past the budget.
var errBudget = newError(http.StatusServiceUnavailable, "too many large bodies are being received at once; try again")

// read reads r, which declared length (-1 when unknown), up to limit
// bytes, and returns it with the function that gives its share of the
// budget back (always call it). A body over limit is a 413.
func (b *bodyBudget) read(r io.Reader, length, limit int64) ([]byte, func(), error) {
	held := int64(0)
	release := func() {
		if held > 0 {
			b.sem.Release(held)
			held = 0
		}
	}
	size := int64(freeBodyBytes)
	if length >= 0 {
		size = min(length+1, freeBodyBytes) // +1: a read that finds the end
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, release, newError(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", limit)
			}
			grown := min(2*int64(cap(buf)), limit+1)
			if extra := max(0, grown-freeBodyBytes) - held; extra > 0 {
				if !b.sem.TryAcquire(extra) {
					return nil, release, errBudget
				}
				held += extra
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			if int64(len(buf)) > limit {
				return nil, release, newError(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", limit)
			}
			return buf, release, nil
		case err != nil:
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return nil, release, newError(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", limit)
			}
			return nil, release, newError(http.StatusBadRequest, "could not read the body within %s", bodyTimeout)
		}
	}
}
