package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
	"github.com/buzzmirror/buzzmirror/sync"
)

// TestLargeInputs sends what a careless integration might: thousands of
// tags or custom fields on one contact, a 1 MiB message body, deeply nested
// extra data. Each gets the contract's answer, and what is accepted reads
// back whole.
func TestLargeInputs(t *testing.T) {
	tags := make([]string, 5000)
	fields := map[string]any{}
	for i := range tags {
		tags[i] = fmt.Sprintf("tag_%04d", i)
		fields[fmt.Sprintf("field_%04d", i)] = i
	}
	nested := any("leaf")
	for range 1000 {
		nested = map[string]any{"n": nested}
	}
	bigBody := strings.Repeat("é", 512*1024) // 1 MiB of UTF-8
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{MaxBodyBytes: 2 << 20})
		for _, tc := range []struct {
			name   string
			body   []byte
			answer string
			check  func(t *testing.T)
		}{
			{"ThousandsOfTags", event("e_tags", "contact.created", map[string]any{"contactId": "c_tags", "tags": tags}), "accepted",
				func(t *testing.T) {
					var c Contact
					_ = json.Unmarshal(s.do(t, http.MethodGet, "/v1/contacts/c_tags", nil, nil).Body.Bytes(), &c)
					var got []string
					_ = json.Unmarshal(c.Tags, &got)
					if len(got) != 5000 {
						t.Errorf("%d tags read back", len(got))
					}
					if ids(t, s.do(t, http.MethodGet, "/v1/contacts?tag=tag_4999&tag=tag_0000", nil, nil).Body.Bytes())[0] != "c_tags" {
						t.Error("tag filter misses the contact")
					}
				}},
			{"ThousandsOfFields", event("e_fields", "contact.created", map[string]any{"contactId": "c_fields", "fields": fields}), "accepted",
				func(t *testing.T) {
					var c Contact
					_ = json.Unmarshal(s.do(t, http.MethodGet, "/v1/contacts/c_fields", nil, nil).Body.Bytes(), &c)
					var got map[string]int
					_ = json.Unmarshal(c.Fields, &got)
					if len(got) != 5000 || got["field_4999"] != 4999 {
						t.Errorf("%d fields read back", len(got))
					}
				}},
			{"OneMiBBody", event("e_big", "message.received", map[string]any{"messageId": "m_big", "conversationId": "v", "body": bigBody}), "accepted",
				func(t *testing.T) {
					var m Message
					_ = json.Unmarshal(s.do(t, http.MethodGet, "/v1/messages/m_big", nil, nil).Body.Bytes(), &m)
					if m.Body == nil || *m.Body != bigBody {
						t.Error("the 1 MiB body did not read back whole")
					}
				}},
			{"DeeplyNestedExtra", event("e_deep", "contact.updated", map[string]any{"contactId": "c_deep", "profile": nested}), "accepted",
				func(t *testing.T) {
					var c Contact
					_ = json.Unmarshal(s.do(t, http.MethodGet, "/v1/contacts/c_deep", nil, nil).Body.Bytes(), &c)
					if strings.Count(string(c.Extra), `"n"`) != 1000 {
						t.Error("nested extra did not read back whole")
					}
				}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := s.deliver(t, tc.body)
				if rec.Code != 200 || decode[map[string]string](t, rec)["status"] != tc.answer {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
				tc.check(t)
			})
		}
		// Over the limit: 413 and nothing stored.
		over := newTestServer(t, db, Options{})
		rec := over.deliver(t, event("e_over", "message.received", map[string]any{"messageId": "m_over", "conversationId": "v", "body": bigBody}))
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("over the limit: %d", rec.Code)
		}
		if rec := over.do(t, http.MethodGet, "/v1/events/e_over", nil, nil); rec.Code != 404 {
			t.Errorf("a refused body was stored: %d", rec.Code)
		}
	})
}

// TestBodyLimitWithoutContentLength caps a chunked body, whose length is
// only known once read, at the same inclusive limit.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	db := storetest.Open(t, store.DriverSQLite)
	body := event("e_chunked", "message.received", msgData)
	for _, tc := range []struct {
		name  string
		limit int64
		want  int
	}{{"AtLimit", int64(len(body)), 200}, {"OneByteOver", int64(len(body)) - 1, 413}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, db, Options{MaxBodyBytes: tc.limit})
			req := httptest.NewRequest(http.MethodPost, "/webhooks/buzzbip", strings.NewReader(string(body)))
			req.ContentLength = -1
			req.Header.Set(SignatureHeader, sync.Sign(testSecret, body))
			rec := httptest.NewRecorder()
			s.echo.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
}
