package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

type pageOf struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// TestPagingWhileRowsAreAdded pages through contacts two at a time while
// new contacts, newer and older than the page boundary, arrive between
// requests: every original contact appears exactly once, in order.
func TestPagingWhileRowsAreAdded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		var original []string
		for i := 20; i < 40; i++ {
			id := fmt.Sprintf("cnt_%02d", i)
			original = append([]string{id}, original...) // newest first
			s.deliver(t, eventAt("e_"+id, "contact.created", i, map[string]any{"contactId": id}))
		}
		var seen []string
		target := "/v1/contacts?limit=3"
		for page := 0; ; page++ {
			rec := s.do(t, http.MethodGet, target, nil, nil)
			if rec.Code != 200 {
				t.Fatalf("page %d: %d %s", page, rec.Code, rec.Body)
			}
			var p pageOf
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			for _, d := range p.Data {
				seen = append(seen, d.ID)
			}
			// Between pages: one contact newer than everything, one older.
			s.deliver(t, eventAt(fmt.Sprintf("e_new_%d", page), "contact.created", 50+page, map[string]any{"contactId": fmt.Sprintf("new_%d", page)}))
			s.deliver(t, eventAt(fmt.Sprintf("e_old_%d", page), "contact.created", 0, map[string]any{"contactId": fmt.Sprintf("old_%02d", page)}))
			if p.NextCursor == nil {
				break
			}
			if page > 40 {
				t.Fatal("paging does not end")
			}
			target = "/v1/contacts?limit=3&cursor=" + *p.NextCursor
		}
		var got []string
		for _, id := range seen {
			if strings.HasPrefix(id, "new_") {
				t.Errorf("%s was added before the cursor yet appeared", id)
			}
			if strings.HasPrefix(id, "cnt_") {
				got = append(got, id)
			}
		}
		if !slices.Equal(got, original) {
			t.Errorf("original contacts seen %v, want %v", got, original)
		}
		sorted := slices.Clone(seen)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(seen) {
			t.Errorf("a contact appeared twice: %v", seen)
		}
	})
}

func TestCursorBelongsToItsQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		fixture(t, s)
		rec := s.do(t, http.MethodGet, "/v1/messages?limit=1&channel=whatsapp", nil, nil)
		var p pageOf
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if p.NextCursor == nil {
			t.Fatal("no cursor")
		}
		cur := *p.NextCursor
		for name, target := range map[string]string{
			"OtherFilter":   "/v1/messages?channel=sms&cursor=" + cur,
			"NoFilter":      "/v1/messages?cursor=" + cur,
			"OtherEndpoint": "/v1/contacts?channel=whatsapp&cursor=" + cur,
			"Edited":        "/v1/messages?channel=whatsapp&cursor=" + cur[:len(cur)-2] + "AA",
		} {
			t.Run(name, func(t *testing.T) {
				rec := s.do(t, http.MethodGet, target, nil, nil)
				if rec.Code != 400 || decode[Problem](t, rec).Parameter == "" {
					t.Errorf("%d %s", rec.Code, rec.Body)
				}
			})
		}
		// The same query with another limit continues.
		if rec := s.do(t, http.MethodGet, "/v1/messages?channel=whatsapp&limit=5&cursor="+cur, nil, nil); rec.Code != 200 {
			t.Errorf("same filter, other limit: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{Tokens: []string{"tok_a", "tok_b"}})
		for _, tc := range []struct {
			name, target, auth string
			want               int
		}{
			{"NoToken", "/v1/contacts", "", 401},
			{"WrongToken", "/v1/contacts", "Bearer tok_c", 401},
			{"WrongScheme", "/v1/contacts", "Basic tok_a", 401},
			{"TokenA", "/v1/contacts", "Bearer tok_a", 200},
			{"TokenB", "/v1/stats", "Bearer tok_b", 200},
			{"HealthOpen", "/healthz", "", 200},
			{"ReadyOpen", "/readyz", "", 200},
			{"MetricsOpen", "/metrics", "", 200},
			{"OpenAPIOpen", "/openapi.json", "", 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := http.Header{}
				if tc.auth != "" {
					h.Set("Authorization", tc.auth)
				}
				rec := s.do(t, http.MethodGet, tc.target, nil, h)
				if rec.Code != tc.want {
					t.Fatalf("%d, want %d: %s", rec.Code, tc.want, rec.Body)
				}
				if tc.want == 401 {
					assertProblem(t, rec, 401)
					if rec.Header().Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				}
			})
		}
		// The webhook is guarded by its signature only.
		if rec := s.deliver(t, event("evt_tok", "message.received", msgData)); rec.Code != 200 {
			t.Errorf("webhook with tokens configured: %d", rec.Code)
		}
	})
}

func TestOtherMethodsAre405(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	for _, tc := range []struct{ method, target string }{
		{http.MethodPost, "/v1/contacts"}, {http.MethodDelete, "/v1/contacts/cnt_1"},
		{http.MethodPut, "/v1/messages/m"}, {http.MethodPatch, "/v1/changes"}, {http.MethodGet, "/webhooks/buzzbip"},
	} {
		rec := s.do(t, tc.method, tc.target, nil, nil)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d", tc.method, tc.target, rec.Code)
			continue
		}
		assertProblem(t, rec, 405)
	}
}

func TestMetricsExposeSeries(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	fixture(t, s)
	s.do(t, http.MethodGet, "/v1/contacts", nil, nil)
	body := s.do(t, http.MethodGet, "/metrics", nil, nil).Body.String()
	for _, series := range []string{
		`buzzmirror_webhook_requests_total{answer="accepted"} 10`,
		`buzzmirror_webhook_requests_total{answer="quarantined"} 1`,
		`buzzmirror_events_total{outcome="ignored",type="other"} 1`,
		`buzzmirror_events_total{outcome="accepted",type="message.received"} 2`,
		`buzzmirror_journal_duration_seconds_count 12`,
		`buzzmirror_pending_events 0`,
		`buzzmirror_pending_oldest_age_seconds 0`,
		`buzzmirror_journal_events{status="applied"} 10`,
		`buzzmirror_projector_batch_events_count `,
		`buzzmirror_projector_lag_seconds_count 10`,
		`buzzmirror_api_requests_total{route="/v1/contacts",status="200"} 1`,
		`buzzmirror_journal_rows 12`,
		`buzzmirror_database_errors_total 0`,
		`buzzmirror_commit_deliveries_total 12`,
		`buzzmirror_commit_batches_total `,
		`buzzmirror_commit_busy_seconds_total `,
		`buzzmirror_webhook_requests_total{answer="503"} 0`, // present before the first
		`buzzmirror_webhook_requests_total{answer="duplicate"} 0`,
		`buzzmirror_journal_queue_depth 0`,
		`buzzmirror_api_request_duration_seconds_count{route="/v1/contacts"} 1`,
		`buzzmirror_last_event_received_timestamp_seconds 1.`, // some time, by our clock
		`buzzmirror_build_info{commit="",goversion="go`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
}
