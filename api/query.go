package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/store"
)

// Paging bounds of every list.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// query reads and validates a request's query parameters. The first problem
// wins and names its parameter; unknown parameters are refused, so a typo
// in a filter never silently returns everything.
type query struct {
	route  string
	values url.Values
	err    *Error
}

// repeatable lists the parameters that may be given several times.
var repeatable = map[string]bool{"tag": true}

func newQuery(c echo.Context, allowed ...string) *query {
	q := &query{route: c.Path()}
	var err *Error
	if q.values, err = parseQuery(c.Request().URL.RawQuery); err != nil {
		q.fail(err)
		q.values = url.Values{}
	}
	names := make([]string, 0, len(q.values))
	for name := range q.values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case name == "":
			q.fail(badParam(`""`, "a parameter without a name (this endpoint takes %s)", strings.Join(allowed, ", ")))
		case !slices.Contains(allowed, name):
			q.fail(badParam(clip(name), "unknown parameter (this endpoint takes %s)", strings.Join(allowed, ", ")))
		case len(q.values[name]) > 1 && !repeatable[name]:
			q.fail(badParam(name, "given more than once"))
		}
	}
	return q
}

// parseQuery parses a raw query string, refusing what url.Values would
// silently drop: a bad % escape, or a ; (which some servers take for &).
// The 400 names the parameter when there is one.
func parseQuery(raw string) (url.Values, *Error) {
	values, err := url.ParseQuery(raw)
	if err == nil {
		return values, nil
	}
	for _, pair := range strings.Split(raw, "&") {
		key, value, _ := strings.Cut(pair, "=")
		name, keyErr := url.QueryUnescape(key)
		if keyErr != nil {
			name = key
		}
		if name == "" {
			name = `""`
		}
		switch _, valueErr := url.QueryUnescape(value); {
		case strings.Contains(pair, ";"):
			return nil, badParam(clip(name), "the query string holds a ';': separate parameters with '&', and escape a ';' in a value as %%3B")
		case keyErr != nil || valueErr != nil:
			return nil, badParam(clip(name), "a '%%' that is not followed by two hexadecimal digits: escape a '%%' as %%25")
		}
	}
	return nil, newError(http.StatusBadRequest, "the query string does not parse: %s", clip(err.Error()))
}

// clip shortens input for an error's detail: an answer never echoes more
// than about 100 bytes of what it was sent.
func clip(s string) string {
	const most = 100
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (q *query) fail(e *Error) {
	if q.err == nil {
		q.err = e
	}
}

// Err returns the first problem, or nil.
func (q *query) Err() error {
	if q.err == nil {
		return nil
	}
	return q.err
}

// str reads an optional parameter; control characters are refused.
func (q *query) str(name string) string {
	v := q.values.Get(name)
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		q.fail(badParam(name, "contains control characters"))
		return ""
	}
	return v
}

// oneOf reads an optional parameter that must be one of allowed.
func (q *query) oneOf(name string, allowed ...string) string {
	v := q.str(name)
	if v != "" && !slices.Contains(allowed, v) {
		q.fail(badParam(name, "%q is not one of %s", clip(v), strings.Join(allowed, ", ")))
		return ""
	}
	return v
}

// all reads a repeatable parameter.
func (q *query) all(name string) []string {
	var out []string
	for _, v := range q.values[name] {
		if v == "" {
			q.fail(badParam(name, "is empty"))
		}
		out = append(out, v)
	}
	return out
}

// time reads an optional RFC 3339 time.
func (q *query) time(name string) *time.Time {
	v := q.values.Get(name)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fail(badParam(name, "%q is not an RFC 3339 time such as 2026-06-01T14:32:00Z", clip(v)))
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		q.fail(badParam(name, "must fall in the years 0001 to 9999"))
		return nil
	}
	return &t
}

// limit reads limit, 1 to maxLimit, default defaultLimit.
func (q *query) limit() int {
	v := q.values.Get("limit")
	if v == "" {
		return defaultLimit
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		q.fail(badParam("limit", "%q is not a whole number from 1 to %d", clip(v), maxLimit))
		return defaultLimit
	}
	return n
}

// fingerprint identifies the route and every parameter but cursor and
// limit, so a cursor only continues the query that made it.
func (q *query) fingerprint() string {
	names := make([]string, 0, len(q.values))
	for name := range q.values {
		if name != "cursor" && name != "limit" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(q.route))
	for _, name := range names {
		vals := slices.Clone(q.values[name])
		sort.Strings(vals)
		h.Write([]byte("\x00" + name + "\x00" + strings.Join(vals, "\x00")))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])
}

// cursorBody is what an opaque cursor carries. Check is a checksum over the
// rest, so an edited cursor is refused rather than silently reinterpreted;
// cursors carry no secret, so the checksum needs no key.
type cursorBody struct {
	Query string `json:"q"`
	At    string `json:"a,omitempty"`
	ID    string `json:"i,omitempty"`
	Seq   int64  `json:"s,omitempty"`
	Kind  string `json:"k,omitempty"`
	Check string `json:"c"`
}

func (b cursorBody) checksum() string {
	b.Check = ""
	raw, _ := json.Marshal(b)
	sum := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func encodeCursor(b cursorBody) string {
	b.Check = b.checksum()
	raw, _ := json.Marshal(b)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// cursor decodes the cursor parameter, if any, for this query.
func (q *query) cursor() *cursorBody {
	v := q.values.Get("cursor")
	if v == "" {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	var b cursorBody
	if err != nil || json.Unmarshal(raw, &b) != nil || b.Check == "" || b.Check != b.checksum() {
		q.fail(badParam("cursor", "not a cursor this service issued"))
		return nil
	}
	if b.Query != q.fingerprint() {
		q.fail(badParam("cursor", "belongs to another query: keep every filter as it was, or start without a cursor"))
		return nil
	}
	return &b
}

// page reads limit and cursor for a keyset list.
func (q *query) page() store.Page {
	p := store.Page{Limit: q.limit()}
	if c := q.cursor(); c != nil {
		p.After = &store.Key{At: c.At, ID: c.ID}
	}
	return p
}

// nextCursor is the cursor of the page after key.
func (q *query) nextCursor(key store.Key) string {
	return encodeCursor(cursorBody{Query: q.fingerprint(), At: key.At, ID: key.ID})
}

// maxIDs bounds ids=: a list by ids is one page.
const maxIDs = 100

// ids reads ids, a comma-separated list of at most maxIDs ids.
func (q *query) ids() []string {
	v := q.str("ids")
	if v == "" {
		return nil
	}
	ids := strings.Split(v, ",")
	if len(ids) > maxIDs {
		q.fail(badParam("ids", "%d ids; at most %d", len(ids), maxIDs))
		return nil
	}
	for _, id := range ids {
		if id == "" {
			q.fail(badParam("ids", "an empty id (ids are separated by single commas)"))
			return nil
		}
	}
	return ids
}

// boolean reads an optional true or false.
func (q *query) boolean(name string) *bool {
	switch v := q.str(name); v {
	case "":
		return nil
	case "true", "false":
		b := v == "true"
		return &b
	default:
		q.fail(badParam(name, "%q is neither true nor false", clip(v)))
		return nil
	}
}

// expandContact reads expand, whose one value is contact.
func (q *query) expandContact() bool {
	return q.oneOf("expand", "contact") == "contact"
}
