package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
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
// point at it. That keeps rows small.
type storedVersions struct {
	Versions []string       `json:"v"`
	Fields   map[string]int `json:"f"`
}

// Value implements driver.Valuer.
func (vs Versions) Value() (driver.Value, error) { return vs.Encode(), nil }

// Encode renders vs as it is stored, the same text for the same map.
func (vs Versions) Encode() string {
	st := storedVersions{Versions: []string{}, Fields: make(map[string]int, len(vs))}
	for _, v := range vs {
		if !slices.Contains(st.Versions, v) {
			st.Versions = append(st.Versions, v)
		}
	}
	slices.Sort(st.Versions) // one encoding per map, whatever the iteration order
	for k, v := range vs {
		st.Fields[k] = slices.Index(st.Versions, v)
	}
	b, _ := json.Marshal(st) // strings and ints always encode; map keys come out sorted
	return string(b)
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
	var st storedVersions
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("models: scan versions: %w", err)
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
