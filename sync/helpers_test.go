package sync

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// ev builds an event body; data may be any JSON-encodable value.
func ev(id, typ, at string, data any) []byte {
	b, err := json.Marshal(map[string]any{"id": id, "type": typ, "createdAt": at, "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

// obj is shorthand for a data object.
type obj = map[string]any

// testClock is the tests' time of receipt: after every event they date.
var testClock = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openWithDSN returns a migrated database of driver, closed when the test
// ends, and its DSN, for the statements a test runs beside the store.
func openWithDSN(t *testing.T, driver string) (*store.DB, string) {
	t.Helper()
	dsn := storetest.DSN(t, driver)
	db, err := store.Open(context.Background(), driver, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}

// testService is a journal and a projector on one database, as serve has.
type testService struct {
	*Journal
	db        *store.DB
	projector *Projector
}

func newTestService(db *store.DB) *testService {
	db.Now = func() time.Time { return testClock }
	return &testService{
		Journal:   NewJournal(db, discard, JournalOptions{}),
		db:        db,
		projector: NewProjector(db, discard, ProjectorOptions{Holder: "test"}),
	}
}

// MustIngest delivers raw, then applies whatever is pending, as the
// projector would, and returns the delivery's outcome.
func MustIngest(t fataler, s *testService, raw []byte) Outcome {
	t.Helper()
	res, err := s.Ingest(context.Background(), raw)
	if err != nil {
		t.Fatalf("ingest %s: %v", raw, err)
	}
	MustDrain(t, s)
	return res.Outcome
}

// MustDrain applies every pending event.
func MustDrain(t fataler, s *testService) {
	t.Helper()
	if err := s.projector.Drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// requests turns bodies into journal requests, as Ingest would.
func requests(s *testService, bodies [][]byte) []*request {
	reqs := make([]*request, len(bodies))
	for i, b := range bodies {
		env, err := ParseEnvelope(b)
		if err != nil {
			panic(err)
		}
		if reqs[i], err = s.newRequest(context.Background(), env, s.db.Now()); err != nil {
			panic(err)
		}
	}
	return reqs
}

// MustSnapshot reads the mirror in comparable form (see storetest.Comparable).
func MustSnapshot(t fataler, db *store.DB) *store.Dump {
	t.Helper()
	m, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return storetest.Comparable(m)
}

// MustStats reads the counters.
func MustStats(t fataler, db *store.DB) *store.Stats {
	t.Helper()
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return st
}

// dump renders a mirror readably for failure messages.
func dump(m *store.Dump) string {
	b, _ := json.MarshalIndent(m, "", "  ")
	return string(b)
}

// fataler is what the Must helpers need of *testing.T and *rapid.T alike.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}
