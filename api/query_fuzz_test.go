package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// FuzzQuery feeds arbitrary query strings to the list endpoints' parser: it
// never panics, and it either accepts or names the parameter it refuses.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"", "limit=10", "limit=0", "limit=-1", "limit=99999999999999999999", "status=open&status=resolved",
		"updatedSince=2026-06-01T10:00:00Z", "since=2026-13-01T00:00:00Z", "tag=a&tag=&tag=b", "q=%00", "cursor=abc",
		"cursor=eyJxIjoiIiwiYyI6IiJ9", "types=contact,,message", "%zz=1", "phone=%2B216%2012",
	} {
		f.Add(seed)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/contacts", nil)
		req.URL.RawQuery = rawQuery
		c := e.NewContext(req, httptest.NewRecorder())
		c.SetPath("/v1/contacts")
		q := newQuery(c, "status", "tag", "q", "updatedSince", "since", "types", "phone", "limit", "cursor")
		q.oneOf("status", "open", "resolved")
		q.all("tag")
		q.str("q")
		q.time("updatedSince")
		q.time("since")
		q.str("phone")
		p := q.page()
		err := q.Err()
		if err == nil {
			if p.Limit < 1 || p.Limit > maxLimit {
				t.Fatalf("accepted limit %d", p.Limit)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok || e.Status != http.StatusBadRequest || e.Parameter == "" {
			t.Fatalf("refusal %v does not name a parameter", err)
		}
	})
}

// FuzzCursor decodes arbitrary cursors: only cursors this service issued
// for this very query are accepted, and every one it issues round-trips.
func FuzzCursor(f *testing.F) {
	f.Add("", "2026-06-01T10:00:00.000000000Z", "cnt_1", int64(0))
	f.Add("garbage", "", "", int64(7))
	e := echo.New()
	newQ := func(rawQuery string) *query {
		req := httptest.NewRequest(http.MethodGet, "/v1/messages", nil)
		req.URL.RawQuery = rawQuery
		c := e.NewContext(req, httptest.NewRecorder())
		c.SetPath("/v1/messages")
		return newQuery(c, "cursor", "limit", "channel")
	}
	f.Fuzz(func(t *testing.T, cursor, at, id string, seq int64) {
		q := newQ("cursor=" + url.QueryEscape(cursor))
		if got := q.cursor(); got != nil && q.Err() == nil && got.Query != q.fingerprint() {
			t.Fatalf("accepted a cursor of another query: %+v", got)
		}
		if !utf8.ValidString(at) || !utf8.ValidString(id) {
			return // keys come from stored rows, which only hold UTF-8
		}
		issued := encodeCursor(cursorBody{Query: newQ("channel=sms").fingerprint(), At: at, ID: id, Seq: seq})
		back := newQ("channel=sms&cursor=" + url.QueryEscape(issued)).cursor()
		if back == nil || back.At != at || back.ID != id || back.Seq != seq {
			t.Fatalf("issued cursor did not round-trip: %+v", back)
		}
		if other := newQ("channel=whatsapp&cursor=" + url.QueryEscape(issued)); other.cursor() != nil || other.Err() == nil {
			t.Fatal("a cursor was accepted by another filter")
		}
	})
}
