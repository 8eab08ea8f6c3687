package sync

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
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

func newTestSyncer(db *store.DB) *Syncer {
	db.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	return NewSyncer(db, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
}

// MustIngest delivers raw and returns its outcome, failing on error.
func MustIngest(t fataler, s *Syncer, raw []byte) Outcome {
	t.Helper()
	res, err := s.Ingest(context.Background(), raw)
	if err != nil {
		t.Fatalf("ingest %s: %v", raw, err)
	}
	return res.Outcome
}

// MustSnapshot reads the mirror in comparable form (see storetest.Comparable).
func MustSnapshot(t fataler, db *store.DB) *store.Mirror {
	t.Helper()
	m, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return storetest.Comparable(m)
}

// dump renders a mirror readably for failure messages.
func dump(m *store.Mirror) string {
	b, _ := json.MarshalIndent(m, "", "  ")
	return string(b)
}

// fataler is what the Must helpers need of *testing.T and *rapid.T alike.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}
