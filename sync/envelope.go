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
	// encoding/json would replace bytes that are not UTF-8 and take the
	// body for JSON; RFC 8259 says it is not.
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: body is not UTF-8", ErrBadEnvelope)
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil || top == nil {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrBadEnvelope)
	}
	env := &Envelope{Raw: raw, Data: top["data"]}
	var err error
	if env.ID, err = envelopeString(top, "id"); err != nil {
		return nil, err
	}
	if escapesLoneSurrogate(top["id"]) {
		return nil, fmt.Errorf("%w: id escapes a lone UTF-16 surrogate, which cannot be told apart from other ids once decoded", ErrBadEnvelope)
	}
	if env.Type, err = envelopeString(top, "type"); err != nil {
		return nil, err
	}
	created, err := envelopeString(top, "createdAt")
	if err != nil {
		return nil, err
	}
	if env.CreatedAt, err = parseCreatedAt(created); err != nil {
		return nil, fmt.Errorf("%w: createdAt %w", ErrBadEnvelope, err)
	}
	return env, nil
}

// parseCreatedAt reads an RFC 3339 time, in UTC. time.Parse also takes
// offsets RFC 3339 forbids (+24:00, and +01:60 as +02:00); those are
// refused. Years outside 0001-9999 (in UTC) are refused too: times are
// stored fixed-width, and those would not sort.
func parseCreatedAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("is not an RFC 3339 time")
	}
	if !strings.HasSuffix(s, "Z") {
		off := s[len(s)-6:] // time.Parse took [+-]hh:mm
		if off[1:3] > "23" || off[4:6] > "59" {
			return time.Time{}, errors.New("has an offset outside -23:59 to +23:59")
		}
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, errors.New("must fall in the years 0001 to 9999 (UTC)")
	}
	return t, nil
}

func envelopeString(top map[string]json.RawMessage, key string) (string, error) {
	raw, ok := top[key]
	if !ok {
		return "", fmt.Errorf("%w: %s is missing", ErrBadEnvelope, key)
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrBadEnvelope, key)
	}
	if s == "" || len(s) > MaxIDLen || strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("%w: %s must be 1 to %d bytes without NUL", ErrBadEnvelope, key, MaxIDLen)
	}
	return s, nil
}

// escapesLoneSurrogate reports whether the JSON string text raw holds a
// \u escape of a UTF-16 surrogate that is not half of a pair. Decoding
// turns every such escape into U+FFFD, so "a\ud800" and "a\udbff" would
// become one id.
func escapesLoneSurrogate(raw json.RawMessage) bool {
	s := string(raw)
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 < len(s) && s[i+1] != 'u' {
			i++ // a one-character escape, \\ included
			continue
		}
		r, ok := escapedUnit(s, i)
		switch {
		case !ok:
			return false // not valid JSON; decoding refuses it anyway
		case 0xDC00 <= r && r <= 0xDFFF:
			return true // a low half with no high half before it
		case 0xD800 <= r && r <= 0xDBFF:
			low, ok := escapedUnit(s, i+6)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 11 // the pair
		default:
			i += 5
		}
	}
	return false
}

// escapedUnit reads the UTF-16 unit of the \uXXXX escape at s[i:].
func escapedUnit(s string, i int) (rune, bool) {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range s[i+2 : i+6] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | (c - '0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | (c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
