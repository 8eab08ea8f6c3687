package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// toolFixture is fixture plus failed messages with codes, one failed and
// then sent (which clears its error).
func toolFixture(t *testing.T, s *testServer) {
	t.Helper()
	fixture(t, s)
	failed := func(id, msg string, i int, code any) []byte {
		return eventAt(id, "message.failed", i, map[string]any{"messageId": msg, "conversationId": "conv_3", "contactId": "cnt_3",
			"channel": "whatsapp", "error": map[string]any{"code": code, "message": "re-engagement window closed"}})
	}
	for _, body := range [][]byte{
		failed("e13", "msg_5", 13, 131047),
		failed("e14", "msg_6", 14, "131047"),
		failed("e15", "msg_7", 15, 470),
		eventAt("e16", "message.sent", 16, map[string]any{"messageId": "msg_7", "conversationId": "conv_3", "contactId": "cnt_3"}),
	} {
		if rec := s.deliver(t, body); rec.Code != http.StatusOK {
			t.Fatalf("fixture: %d %s", rec.Code, rec.Body)
		}
	}
}

func TestToolBuilderQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		toolFixture(t, s)
		for target, want := range map[string]string{
			"/v1/messages?errorCode=131047":                     "msg_6,msg_5", // a number and a string are one code
			"/v1/messages?errorCode=470":                        "",            // sent since: no error any more
			"/v1/messages?status=failed":                        "msg_6,msg_5,msg_3",
			"/v1/conversations?awaitingReply=true":              "", // msg_7 was sent after msg_4 arrived
			"/v1/contacts/cnt_3/messages?errorCode=131047":      "msg_6,msg_5",
			"/v1/contacts/cnt_3/messages?ids=msg_5,msg_7,msg_1": "msg_7,msg_5",
		} {
			rec := s.do(t, http.MethodGet, target, nil, nil)
			if got := strings.Join(ids(t, rec.Body.Bytes()), ","); rec.Code != 200 || got != want {
				t.Errorf("%s: %d %s, want %s", target, rec.Code, got, want)
			}
		}
		msg := decode[Message](t, s.do(t, http.MethodGet, "/v1/messages/msg_7", nil, nil))
		if msg.Status != "sent" || string(msg.Error) != "null" {
			t.Errorf("a failed message later sent keeps its error: %+v", msg)
		}
		conv := decode[Conversation](t, s.do(t, http.MethodGet, "/v1/conversations/conv_3", nil, nil))
		if conv.LastInbound == nil || conv.LastOutbound == nil || conv.AwaitingReply ||
			conv.LastInbound.t.Format("15:04") != "10:08" || conv.LastOutbound.t.Format("15:04") != "10:16" {
			t.Errorf("conv_3: %+v", conv)
		}
	})
}

func TestHasMoreOnEveryList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		fixture(t, s)
		for _, list := range []string{"/v1/contacts", "/v1/contacts/cnt_1/conversations", "/v1/contacts/cnt_1/messages",
			"/v1/conversations", "/v1/conversations/conv_1/messages", "/v1/messages", "/v1/workflow-runs", "/v1/events"} {
			var seen []string
			target := list + "?limit=1"
			for pages := 0; ; pages++ {
				page := decode[struct {
					Data       []json.RawMessage
					NextCursor *string
					HasMore    *bool
				}](t, s.do(t, http.MethodGet, target, nil, nil))
				if page.HasMore == nil || *page.HasMore != (page.NextCursor != nil) {
					t.Fatalf("%s: hasMore %v with nextCursor %v", target, page.HasMore, page.NextCursor)
				}
				for _, d := range page.Data {
					seen = append(seen, string(d))
				}
				if !*page.HasMore {
					break
				}
				target = list + "?limit=1&cursor=" + *page.NextCursor
			}
			all := decode[struct{ Data []json.RawMessage }](t, s.do(t, http.MethodGet, list+"?limit=500", nil, nil))
			if len(seen) != len(all.Data) {
				t.Errorf("%s: %d rows one at a time, %d at once", list, len(seen), len(all.Data))
			}
		}
	})
}

func TestExpandContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		fixture(t, s)
		type item map[string]json.RawMessage // tells an absent key from null
		contactOf := func(it item) string {
			raw, ok := it["contact"]
			if !ok {
				return "absent"
			}
			var c *Contact
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			if c == nil {
				return "null"
			}
			return c.ID
		}
		// cnt_3 is named by conv_3 and msg_4, but no contact event made it:
		// it is in the mirror all the same (CONTRACT: any event with its
		// contactId); a conversation naming no contact gets null.
		s.deliver(t, eventAt("e20", "conversation.opened", 20, map[string]any{"conversationId": "conv_9"}))
		page := decode[struct{ Data []item }](t, s.do(t, http.MethodGet, "/v1/conversations?expand=contact", nil, nil))
		got := map[string]string{}
		for _, it := range page.Data {
			var id string
			_ = json.Unmarshal(it["id"], &id)
			got[id] = contactOf(it)
		}
		want := map[string]string{"conv_9": "null", "conv_3": "cnt_3", "conv_1": "cnt_1", "conv_2": "cnt_2"}
		if !maps(got, want) {
			t.Errorf("expanded conversations %v, want %v", got, want)
		}
		one := decode[item](t, s.do(t, http.MethodGet, "/v1/messages/msg_1?expand=contact", nil, nil))
		if contactOf(one) != "cnt_1" {
			t.Errorf("message msg_1 expanded: %s", contactOf(one))
		}
		plain := decode[item](t, s.do(t, http.MethodGet, "/v1/messages/msg_1", nil, nil))
		if got := contactOf(plain); got != "absent" {
			t.Errorf("contact without expand: %s", got)
		}
	})
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNDJSONExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		toolFixture(t, s)
		export := http.Header{"Accept": {ndjson}}
		// An expanded page reads its contacts in the page's query, an export
		// page by page: both give the same lines.
		for _, list := range []string{"/v1/contacts", "/v1/conversations?expand=contact", "/v1/conversations/conv_3/messages",
			"/v1/conversations/conv_3/messages?expand=contact", "/v1/messages?status=failed", "/v1/messages?expand=contact",
			"/v1/contacts/cnt_3/messages", "/v1/contacts/cnt_1/conversations?expand=contact", "/v1/workflow-runs", "/v1/events?type=message.failed"} {
			rec := s.do(t, http.MethodGet, list, nil, export)
			if rec.Code != 200 || rec.Header().Get("Content-Type") != ndjson {
				t.Fatalf("%s: %d %s %s", list, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			var lines []string
			sc := bufio.NewScanner(rec.Body)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			sep := "?"
			if strings.Contains(list, "?") {
				sep = "&"
			}
			page := decode[struct{ Data []json.RawMessage }](t, s.do(t, http.MethodGet, list+sep+"limit=500", nil, nil))
			var want []string
			for _, d := range page.Data {
				want = append(want, string(d))
			}
			if !slices.Equal(lines, want) {
				t.Errorf("%s exported\n%s\nwant the page's rows\n%s", list, strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
		}
		// Nothing matches: 200 and an empty body.
		if rec := s.do(t, http.MethodGet, "/v1/messages?channel=fax", nil, export); rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("empty export: %d %q", rec.Code, rec.Body)
		}
		// Under a contact or conversation: a missing owner is a 404, an
		// owner with nothing that matches an empty 200.
		for _, missing := range []string{"/v1/contacts/nope/messages", "/v1/contacts/nope/conversations", "/v1/conversations/nope/messages"} {
			if rec := s.do(t, http.MethodGet, missing, nil, export); rec.Code != 404 {
				t.Errorf("export of %s: %d %q, want 404", missing, rec.Code, rec.Body)
			}
		}
		if rec := s.do(t, http.MethodGet, "/v1/contacts/cnt_3/messages?channel=fax", nil, export); rec.Code != 200 || rec.Body.Len() != 0 {
			t.Errorf("empty export under a contact: %d %q", rec.Code, rec.Body)
		}
		// Paging parameters make no sense in an export.
		if rec := s.do(t, http.MethodGet, "/v1/messages?limit=5", nil, export); rec.Code != 400 || decode[Problem](t, rec).Parameter != "limit" {
			t.Errorf("export with limit: %d %s", rec.Code, rec.Body)
		}
		// A client that accepts JSON too gets the page.
		both := http.Header{"Accept": {ndjson + ", application/json"}}
		if rec := s.do(t, http.MethodGet, "/v1/messages", nil, both); !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("Accept both: %s", rec.Header().Get("Content-Type"))
		}
	})
}

func TestCORS(t *testing.T) {
	db := storetest.Open(t, store.DriverSQLite)
	s := newTestServer(t, db, Options{CORSOrigins: []string{"https://dash.example.com"}})
	fixture(t, s)
	preflight := func(origin string) http.Header {
		rec := s.do(t, http.MethodOptions, "/v1/contacts", nil, http.Header{
			"Origin": {origin}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"authorization"}})
		if rec.Code >= 300 {
			t.Errorf("preflight from %s: %d", origin, rec.Code)
		}
		return rec.Header()
	}
	if h := preflight("https://dash.example.com"); h.Get("Access-Control-Allow-Origin") != "https://dash.example.com" ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight from the configured origin: %v", h)
	}
	if h := preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin allowed: %v", h)
	}
	rec := s.do(t, http.MethodGet, "/v1/contacts", nil, http.Header{"Origin": {"https://dash.example.com"}})
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://dash.example.com" || rec.Code != 200 {
		t.Errorf("GET from the configured origin: %d %v", rec.Code, rec.Header())
	}
	// The webhook is not for browsers.
	rec = s.do(t, http.MethodOptions, "/webhooks/buzzbip", nil, http.Header{"Origin": {"https://dash.example.com"}, "Access-Control-Request-Method": {"POST"}})
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the webhook allows a browser origin: %v", rec.Header())
	}
	// None configured: no CORS headers at all.
	plain := newTestServer(t, db, Options{})
	rec = plain.do(t, http.MethodGet, "/v1/contacts", nil, http.Header{"Origin": {"https://dash.example.com"}})
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS without configured origins: %v", rec.Header())
	}
}

func TestGzip(t *testing.T) {
	db := storetest.Open(t, store.DriverSQLite)
	s := newTestServer(t, db, Options{})
	toolFixture(t, s)
	plain := s.do(t, http.MethodGet, "/v1/events", nil, nil)
	rec := s.do(t, http.MethodGet, "/v1/events", nil, http.Header{"Accept-Encoding": {"gzip"}})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip for a client that accepts it: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if !bytes.Equal(body, plain.Body.Bytes()) {
		t.Errorf("gzipped answer differs:\n%s\n%s", body, plain.Body)
	}
	if rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", []byte("{}"), http.Header{"Accept-Encoding": {"gzip"}}); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("the webhook's answer is compressed")
	}
}
