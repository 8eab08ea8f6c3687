package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

const testSecret = "whsec_test"

// testServer is the real router over a real database.
type testServer struct {
	db     *store.DB
	echo   *echo.Echo
	syncer *sync.Syncer
}

func newTestServer(t testing.TB, db *store.DB, opts Options) *testServer {
	t.Helper()
	if opts.WebhookPath == "" {
		opts.WebhookPath = "/webhooks/buzzbip"
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	v, err := sync.NewVerifier([]string{testSecret, "whsec_old"})
	if err != nil {
		t.Fatal(err)
	}
	s := sync.NewSyncer(db, log, sync.Options{})
	t.Cleanup(s.Close)
	e, err := New(Deps{DB: db, Syncer: s, Verifier: v, Log: log}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{db: db, syncer: s, echo: e}
}

// do sends a request through the router and returns the recorder.
func (s *testServer) do(t testing.TB, method, target string, body []byte, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v) // canonicalises the name, as net/http's server does
		}
	}
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	validateResponse(t, req, rec)
	return rec
}

// deliver posts body signed with the test secret.
func (s *testServer) deliver(t testing.TB, body []byte) *httptest.ResponseRecorder {
	return s.do(t, http.MethodPost, "/webhooks/buzzbip", body, http.Header{SignatureHeader: {sync.Sign(testSecret, body)}})
}

func event(id, typ string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "type": typ, "createdAt": "2026-06-01T14:32:00Z", "data": data})
	return b
}

func decode[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}
