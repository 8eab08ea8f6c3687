package sync

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Every event is read as a JSON object whose values are kept raw, at the
// top and again in data. json.Unmarshal into a map[string]json.RawMessage
// scans its input twice (once to validate, once to decode) and every
// string key or value once more; that was most of the 18 µs an event's
// parse and decode took. objectMembers does the same in one pass, and
// jsonString takes a string without escapes as it is. A differential fuzz
// target (FuzzObjectMembers) holds both to encoding/json's answers.

// maxDepth is encoding/json's nesting limit: deeper input is an error.
const maxDepth = 10000

// objectMembers splits raw, which must be one JSON object with nothing but
// whitespace around it, into its members, values raw, as json.Unmarshal
// into a map[string]json.RawMessage would: the whole text is validated, a
// key repeated keeps its last value, and the values share raw's memory.
func objectMembers(raw []byte) (map[string]json.RawMessage, bool) {
	s := scanner{b: raw}
	s.space()
	if !s.next('{') {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	s.space()
	if !s.next('}') {
		for {
			s.space()
			start := s.i
			if !s.str() {
				return nil, false
			}
			key, ok := jsonString(raw[start:s.i])
			if !ok {
				return nil, false
			}
			s.space()
			if !s.next(':') {
				return nil, false
			}
			s.space()
			start = s.i
			if !s.value(2) {
				return nil, false
			}
			m[key] = raw[start:s.i]
			s.space()
			if s.next('}') {
				break
			}
			if !s.next(',') {
				return nil, false
			}
		}
	}
	s.space()
	return m, s.i == len(raw)
}

// jsonString decodes a JSON string literal; one without escapes (in UTF-8)
// is taken as it is, any other goes through json.Unmarshal.
func jsonString(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		body := raw[1 : len(raw)-1]
		if bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 && !hasControl(body) && utf8.Valid(body) {
			return string(body), true
		}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// scanner validates JSON text by RFC 8259, as encoding/json does: bytes
// that are not UTF-8 are let through inside strings (the callers check
// UTF-8 on the whole body first).
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
	case c == '{' || c == '[':
		return s.container(depth)
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

// container consumes an object or an array.
func (s *scanner) container(depth int) bool {
	if depth > maxDepth {
		return false
	}
	object := s.b[s.i] == '{'
	closer := byte(']')
	if object {
		closer = '}'
	}
	s.i++
	s.space()
	if s.next(closer) {
		return true
	}
	for {
		s.space()
		if object {
			if !s.str() {
				return false
			}
			s.space()
			if !s.next(':') {
				return false
			}
			s.space()
		}
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.next(closer) {
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
