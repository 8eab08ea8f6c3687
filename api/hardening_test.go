package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
	"github.com/buzzmirror/buzzmirror/sync"
)

// TestMalformedQueryIsRefused: a query string that does not parse is a
// 400 naming the parameter, never a list with the filter dropped.
func TestMalformedQueryIsRefused(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	for target, param := range map[string]string{
		"/v1/contacts?email=nobody%zz@example.com": "email",
		"/v1/contacts?email=x;limit=1":             "email",
		"/v1/contacts?cursor=%%%%":                 "cursor",
		"/v1/messages?status=failed&q%ZZ=1":        "q%ZZ",
	} {
		rec := s.do(t, http.MethodGet, target, nil, nil)
		assertProblem(t, rec, http.StatusBadRequest)
		if p := decode[Problem](t, rec); p.Parameter != param {
			t.Errorf("%s: the 400 names %q, want %q (%s)", target, p.Parameter, param, p.Detail)
		}
	}
}

// TestEchoesLittleInput: a 700 KB query value comes back in the 400's
// detail as at most about 100 bytes.
func TestEchoesLittleInput(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	huge := strings.Repeat("a", 700_000)
	for _, target := range []string{"/v1/messages?status=" + huge, "/v1/messages?since=" + huge, "/v1/messages?" + huge + "=1", "/v1/changes?types=" + huge} {
		rec := s.do(t, http.MethodGet, target, nil, nil)
		assertProblem(t, rec, http.StatusBadRequest)
		if rec.Body.Len() > 600 {
			t.Errorf("%s…: the 400 is %d bytes: %.300s", target[:30], rec.Body.Len(), rec.Body)
		}
	}
}

// TestHeadOnHealth: uptime checkers send HEAD; it answers like GET,
// without a body.
func TestHeadOnHealth(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		req := httptest.NewRequest(http.MethodHead, path, nil)
		rec := httptest.NewRecorder()
		s.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, rec.Code)
		}
	}
}

// TestReadinessMeansCanCommit: a database that answers but refuses every
// write is not ready, though it pings.
func TestReadinessMeansCanCommit(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t, driver)
			db, err := store.Open(context.Background(), driver, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := newTestServer(t, db, Options{})
			if rec := s.do(t, http.MethodGet, "/readyz", nil, nil); rec.Code != http.StatusOK {
				t.Fatalf("ready before: %d %s", rec.Code, rec.Body)
			}
			refuse := map[string][]string{
				store.DriverSQLite: {`CREATE TRIGGER refuse_writes BEFORE UPDATE ON counters BEGIN SELECT RAISE(FAIL, 'disk full'); END`},
				store.DriverPostgres: {
					`CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
					`CREATE TRIGGER refuse_writes BEFORE UPDATE ON counters FOR EACH ROW EXECUTE FUNCTION refuse_writes()`,
				},
			}
			storetest.Exec(t, driver, dsn, refuse[driver]...)
			if err := db.Ping(context.Background()); err != nil {
				t.Fatalf("the database must still answer: %v", err)
			}
			// The migration's commit vouches for a moment; then a probe decides.
			for range 40 {
				if rec := s.do(t, http.MethodGet, "/readyz", nil, nil); rec.Code == http.StatusServiceUnavailable {
					return
				}
				waitALittle()
			}
			t.Error("a database that cannot commit is still reported ready")
		})
	}
}

// TestMetricsOnTheAdminListenerOnly: with an admin listener, the public
// router has no /metrics, and the admin one has it and health.
func TestMetricsOnTheAdminListenerOnly(t *testing.T) {
	db := storetest.Open(t, store.DriverSQLite)
	s := newTestServer(t, db, Options{MetricsElsewhere: true})
	if rec := s.do(t, http.MethodGet, "/metrics", nil, nil); rec.Code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", rec.Code)
	}
	admin := NewAdmin(Deps{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(MetricsSource{DB: db})})
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("admin %s: %d", path, rec.Code)
		}
	}
}

// TestLoneSurrogateIDs: ids that escape a lone UTF-16 surrogate decode to
// the same text (U+FFFD) and would merge: an envelope id is a 400, a
// resource id quarantines the event; the same character written as such
// is an id of its own.
func TestLoneSurrogateIDs(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	post := func(body string) *httptest.ResponseRecorder {
		return s.do(t, http.MethodPost, "/webhooks/buzzbip", []byte(body), http.Header{SignatureHeader: {sync.Sign(testSecret, []byte(body))}})
	}
	for _, id := range []string{`p_ls\ud800`, `p_ls\udbff`, `p_ls\udc00x`, `p_ls\ud800\u0041`} {
		rec := post(`{"id":"` + id + `","type":"contact.created","createdAt":"2026-06-01T10:00:00Z","data":{"contactId":"c"}}`)
		assertProblem(t, rec, http.StatusBadRequest)
	}
	for _, id := range []string{`p_ls\ufffd`, `p_ls\ud83d\ude00`} {
		rec := post(`{"id":"` + id + `","type":"contact.created","createdAt":"2026-06-01T10:00:00Z","data":{"contactId":"c"}}`)
		if got := decode[map[string]string](t, rec)["status"]; got != "accepted" {
			t.Errorf("id %s: %s, want accepted", id, got)
		}
	}
	for i, contact := range []string{`c_ls\ud800`, `c_ls\udfff`} {
		rec := post(`{"id":"e_ls` + string(rune('0'+i)) + `","type":"contact.created","createdAt":"2026-06-01T10:00:00Z","data":{"contactId":"` + contact + `"}}`)
		if got := decode[map[string]string](t, rec)["status"]; got != "quarantined" {
			t.Errorf("contact %s: %s, want quarantined", contact, got)
		}
	}
}

// TestClockFarAhead: an event dated more than 24 h after its receipt is
// quarantined (it would win every later update for good), and an offset
// RFC 3339 forbids is a 400.
func TestClockFarAhead(t *testing.T) {
	s := newTestServer(t, storetest.Open(t, store.DriverSQLite), Options{})
	for body, want := range map[string]int{
		`{"id":"e_far","type":"contact.updated","createdAt":"9999-12-31T23:59:59Z","data":{"contactId":"c"}}`:     200,
		`{"id":"e_24","type":"contact.updated","createdAt":"2026-06-01T10:00:00+24:00","data":{"contactId":"c"}}`: 400,
		`{"id":"e_60","type":"contact.updated","createdAt":"2026-06-01T10:00:00+01:60","data":{"contactId":"c"}}`: 400,
	} {
		rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", []byte(body), http.Header{SignatureHeader: {sync.Sign(testSecret, []byte(body))}})
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", body, rec.Code, want)
		}
		if want == 200 {
			if got := decode[map[string]string](t, rec)["status"]; got != "quarantined" {
				t.Errorf("a far future event: %s, want quarantined", got)
			}
		}
	}
}

// TestBodyBudget: bodies past the first 64 KiB draw on the budget; one
// that would go past it is answered 503 at once, while a small delivery
// still gets through.
func TestBodyBudget(t *testing.T) {
	b := newBodyBudget(200 << 10)
	big := bytes.Repeat([]byte("x"), 150<<10)
	first, releaseFirst, err := b.read(bytes.NewReader(big), int64(len(big)), 1<<20)
	if err != nil || len(first) != len(big) {
		t.Fatalf("a body within the budget: %d bytes, %v", len(first), err)
	}
	if _, release, err := b.read(bytes.NewReader(big), int64(len(big)), 1<<20); err != errBudget {
		release()
		t.Fatalf("a second large body while the first is held: %v, want the budget's 503", err)
	}
	small := []byte(`{"id":"e"}`)
	if got, release, err := b.read(bytes.NewReader(small), -1, 1<<20); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("a small body while the budget is spent: %q, %v", got, err)
	} else {
		release()
	}
	releaseFirst()
	if _, release, err := b.read(bytes.NewReader(big), -1, 1<<20); err != nil {
		t.Fatalf("after the first was released: %v", err)
	} else {
		release()
	}
	_, release, err := b.read(bytes.NewReader(big), -1, 100<<10)
	release()
	if err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("over the limit: %v, want a 413", err)
	}
}
