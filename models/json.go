package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// JSON is a JSON document stored as text. A nil JSON is SQL NULL.
type JSON []byte

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	if j == nil {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case string:
		*j = JSON(v)
	case []byte:
		*j = append(JSON(nil), v...)
	default:
		return fmt.Errorf("models: cannot scan %T into JSON", src)
	}
	return nil
}

// MarshalJSON emits the document as it is, or null.
func (j JSON) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// GormDataType keeps GORM from guessing a column type.
func (JSON) GormDataType() string { return "string" }

// Versions records, per field of a row, the version of the event that last
// set it: FormatTime(createdAt) + " " + eventID. Because the time part is
// fixed-width, comparing two versions as strings orders them exactly as the
// contract orders events (createdAt first, then event id byte-wise).
type Versions map[string]string

// Claim records v for key and reports true when v is newer than what key
// holds; an older or equal version leaves key alone and reports false.
func (vs Versions) Claim(key, v string) bool {
	if v <= vs[key] {
		return false
	}
	vs[key] = v
	return true
}

// storedVersions is how Versions is stored: most fields of a row were set by
// the same few events, so each distinct version is written once and fields
// point at it. That keeps rows small, and small rows are what keeps the
// SQLite write-ahead log, and so ingest, fast.
type storedVersions struct {
	Versions []string       `json:"v"`
	Fields   map[string]int `json:"f"`
}

// Value implements driver.Valuer.
func (vs Versions) Value() (driver.Value, error) { return vs.Encode(), nil }

// Encode renders vs as it is stored: the JSON encoding of storedVersions,
// byte for byte what encoding/json makes of it, without its reflection
// (the writer encodes the versions of every row it writes).
func (vs Versions) Encode() string {
	distinct := make([]string, 0, 4)
	for _, v := range vs {
		if !slices.Contains(distinct, v) {
			distinct = append(distinct, v)
		}
	}
	slices.Sort(distinct) // one encoding per map, whatever the iteration order
	keys := make([]string, 0, len(vs))
	for k := range vs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 16+48*len(distinct)+16*len(keys))
	b = append(b, `{"v":[`...)
	for i, v := range distinct {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	b = append(b, `],"f":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(slices.Index(distinct, vs[k])), 10)
	}
	b = append(b, "}}"...)
	return string(b)
}

// appendJSONString appends s as encoding/json quotes it. Versions and field
// names are plain ASCII nearly always; anything else takes encoding/json's
// own path, HTML escapes and all.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Scan implements sql.Scanner.
func (vs *Versions) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*vs = Versions{}
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("models: cannot scan %T into Versions", src)
	}
	st, ok := decodeStored(b)
	if !ok {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("models: scan versions: %w", err)
		}
	}
	m := make(Versions, len(st.Fields))
	for k, i := range st.Fields {
		if i < 0 || i >= len(st.Versions) {
			return fmt.Errorf("models: scan versions: field %q points at version %d of %d", k, i, len(st.Versions))
		}
		m[k] = st.Versions[i]
	}
	*vs = m
	return nil
}

// GormDataType keeps GORM from guessing a column type.
func (Versions) GormDataType() string { return "string" }

// decodeStored reads what Encode writes, when every string in it is plain
// (no escapes), as nearly all are; ok is false for anything else, which
// encoding/json then reads. The writer decodes the versions of every row
// it loads.
func decodeStored(b []byte) (st storedVersions, ok bool) {
	d := plainJSON{b: b}
	if !d.take(`{"v":[`) {
		return st, false
	}
	st.Versions = []string{}
	for !d.take("]") {
		if len(st.Versions) > 0 && !d.take(",") {
			return st, false
		}
		v, ok := d.str()
		if !ok {
			return st, false
		}
		st.Versions = append(st.Versions, v)
	}
	if !d.take(`,"f":{`) {
		return st, false
	}
	st.Fields = map[string]int{}
	for !d.take("}") {
		if len(st.Fields) > 0 && !d.take(",") {
			return st, false
		}
		k, ok := d.str()
		if !ok || !d.take(":") {
			return st, false
		}
		i, ok := d.index()
		if !ok {
			return st, false
		}
		if _, dup := st.Fields[k]; dup {
			return st, false // encoding/json keeps the last; leave it to it
		}
		st.Fields[k] = i
	}
	return st, d.take("}") && len(d.b) == 0
}

// plainJSON reads the few tokens decodeStored needs from the front of b.
type plainJSON struct{ b []byte }

func (d *plainJSON) take(lit string) bool {
	if len(d.b) < len(lit) || string(d.b[:len(lit)]) != lit {
		return false
	}
	d.b = d.b[len(lit):]
	return true
}

// str reads a string without escapes or control characters.
func (d *plainJSON) str() (string, bool) {
	if len(d.b) == 0 || d.b[0] != '"' {
		return "", false
	}
	for i := 1; i < len(d.b); i++ {
		switch c := d.b[i]; {
		case c == '"':
			s := string(d.b[1:i])
			d.b = d.b[i+1:]
			return s, utf8.ValidString(s)
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// index reads a small non-negative integer, as Encode writes it.
func (d *plainJSON) index() (int, bool) {
	n, i := 0, 0
	for ; i < len(d.b) && i < 9 && d.b[i] >= '0' && d.b[i] <= '9'; i++ {
		n = n*10 + int(d.b[i]-'0')
	}
	if i == 0 || (i > 1 && d.b[0] == '0') || (i < len(d.b) && d.b[i] >= '0' && d.b[i] <= '9') {
		return 0, false
	}
	d.b = d.b[i:]
	return n, true
}
