package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	gosync "sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/sync"
)

const testSecret = "whsec_test"

// testServer is the real router over a real database, with a projector
// that deliver runs once its delivery is answered.
type testServer struct {
	db        *store.DB
	echo      *echo.Echo
	journal   *sync.Journal
	projector *sync.Projector
	projectMu gosync.Mutex // one drain at a time
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
	if testing.Verbose() { // the service's log, to see why a request failed
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	v, err := sync.NewVerifier([]string{testSecret, "whsec_old"})
	if err != nil {
		t.Fatal(err)
	}
	j := sync.NewJournal(db, log, sync.JournalOptions{})
	t.Cleanup(j.Close)
	metrics := NewMetrics(MetricsSource{DB: db, Commits: j.CommitStats, QueueDepth: j.QueueDepth})
	e, err := New(Deps{DB: db, Journal: j, Verifier: v, Log: log, Metrics: metrics}, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := sync.NewProjector(db, log, sync.ProjectorOptions{Holder: "api test", Observe: metrics.ProjectorStep})
	return &testServer{db: db, journal: j, echo: e, projector: p}
}

// project applies every pending event, as the projector would.
func (s *testServer) project(t testing.TB) {
	t.Helper()
	s.projectMu.Lock()
	defer s.projectMu.Unlock()
	for {
		err := s.projector.Drain(context.Background())
		if errors.Is(err, sync.ErrLeaseBusy) { // another instance of the test drains
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("project: %v", err)
		}
		return
	}
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

// deliver posts body signed with the test secret, then applies what is
// pending, so that the mirror shows the event.
func (s *testServer) deliver(t testing.TB, body []byte) *httptest.ResponseRecorder {
	rec := s.do(t, http.MethodPost, "/webhooks/buzzbip", body, http.Header{SignatureHeader: {sync.Sign(testSecret, body)}})
	s.project(t)
	return rec
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

// waitALittle lets a readiness vouching commit age.
func waitALittle() { time.Sleep(100 * time.Millisecond) }
