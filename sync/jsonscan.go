package sync

import (
	"bytes"
	"encoding/json"
)

// Every event is read as a JSON object whose values are kept raw, at the
// top and again in data. json.Unmarshal into a map[string]json.RawMessage
// scans its input twice (once to validate, once to decode) and every
// string key or value once more; that was most of the 18 µs an event's
// parse and decode took. objectMembers does the same in one pass, and
// jsonString takes a string without escapes as it is. Both expect UTF-8:
// ParseEnvelope refuses any other body first, where encoding/json would
// have replaced the bad bytes. A differential fuzz target
// (FuzzObjectMembers) holds both to encoding/json's answers.

// maxDepth is encoding/json's nesting limit: deeper input is an error.
const maxDepth = 10000

// objectMembers splits raw, which must be one JSON object with nothing but
// whitespace around it, into its members, values raw, as json.Unmarshal
// into a map[string]json.RawMessage would: the whole text is validated, a
// key repeated keeps its last value, and the values share raw's memory.
func objectMembers(raw []byte) (map[string]json.RawMessage, bool) {
	m := map[string]json.RawMessage{}
	s := scanner{b: raw}
	s.space()
	ok := s.object(1, func(key, value []byte) {
		k, _ := jsonString(key) // a literal the scanner accepted always decodes
		m[k] = value
	})
	s.space()
	if !ok || s.i != len(raw) {
		return nil, false
	}
	return m, true
}

// jsonString decodes raw, one JSON value as the scanner accepted it, into
// a string as json.Unmarshal would (null leaves it empty): a string
// without escapes is taken as it is, anything else goes through
// json.Unmarshal.
func jsonString(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// scanner validates JSON text by RFC 8259, as encoding/json does: bytes
// that are not UTF-8 are let through inside strings.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// value consumes one value at nesting depth depth (the top value is 1).
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth, nil)
	case c == '[':
		return s.array(depth)
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// object consumes an object, calling member (when not nil) with each
// member's key literal and raw value.
func (s *scanner) object(depth int, member func(key, value []byte)) bool {
	if depth > maxDepth || !s.next('{') {
		return false
	}
	s.space()
	if s.next('}') {
		return true
	}
	for {
		s.space()
		start := s.i
		if !s.str() {
			return false
		}
		key := s.b[start:s.i]
		s.space()
		if !s.next(':') {
			return false
		}
		s.space()
		start = s.i
		if !s.value(depth + 1) {
			return false
		}
		if member != nil {
			member(key, s.b[start:s.i])
		}
		s.space()
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// array consumes an array.
func (s *scanner) array(depth int) bool {
	if depth > maxDepth || !s.next('[') {
		return false
	}
	s.space()
	if s.next(']') {
		return true
	}
	for {
		s.space()
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// str consumes a string literal.
func (s *scanner) str() bool {
	if !s.next('"') {
		return false
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i >= len(s.b) {
				return false
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if s.i+4 > len(s.b) {
					return false
				}
				for _, h := range s.b[s.i : s.i+4] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number consumes -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.next('-')
	switch {
	case s.next('0'):
	case s.digits() == 0:
		return false
	}
	if s.next('.') && s.digits() == 0 {
		return false
	}
	if s.next('e') || s.next('E') {
		if !s.next('+') {
			s.next('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits consumes a run of digits and says how long it was.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}
