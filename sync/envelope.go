package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buzzmirror/buzzmirror/models"
)

// MaxIDLen caps every id (event, resource, tag) so it fits any index.
const MaxIDLen = 256

// ErrBadEnvelope marks a body that is not JSON or lacks a usable id, type or
// createdAt. Such a request is answered 400 and nothing is stored.
var ErrBadEnvelope = errors.New("invalid event envelope")

// Envelope is the part every BuzzBip event shares.
type Envelope struct {
	ID        string
	Type      string
	CreatedAt time.Time
	Data      json.RawMessage // nil when the key is absent
	Raw       []byte          // the body exactly as received
}

// Version orders the event among all others: createdAt first, then id
// byte-wise. See models.Versions.
func (e *Envelope) Version() string { return models.FormatTime(e.CreatedAt) + " " + e.ID }

// ParseEnvelope reads the envelope of a raw body. It does not look into data.
func ParseEnvelope(raw []byte) (*Envelope, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: body is not UTF-8", ErrBadEnvelope)
	}
	top, ok := objectMembers(raw)
	if !ok {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrBadEnvelope)
	}
	env := &Envelope{Raw: raw, Data: top["data"]}
	var err error
	if env.ID, err = envelopeString(top, "id"); err != nil {
		return nil, err
	}
	if env.Type, err = envelopeString(top, "type"); err != nil {
		return nil, err
	}
	created, err := envelopeString(top, "createdAt")
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return nil, fmt.Errorf("%w: createdAt is not an RFC 3339 time", ErrBadEnvelope)
	}
	env.CreatedAt = t.UTC()
	if y := env.CreatedAt.Year(); y < 1 || y > 9999 {
		// Times are stored fixed-width; years outside 0001-9999 would not sort.
		return nil, fmt.Errorf("%w: createdAt must fall in the years 0001 to 9999 (UTC)", ErrBadEnvelope)
	}
	return env, nil
}

func envelopeString(top map[string]json.RawMessage, key string) (string, error) {
	raw, ok := top[key]
	if !ok {
		return "", fmt.Errorf("%w: %s is missing", ErrBadEnvelope, key)
	}
	s, ok := jsonString(raw)
	if !ok {
		return "", fmt.Errorf("%w: %s is not a string", ErrBadEnvelope, key)
	}
	if s == "" || len(s) > MaxIDLen || strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("%w: %s must be 1 to %d bytes without NUL", ErrBadEnvelope, key, MaxIDLen)
	}
	return s, nil
}
