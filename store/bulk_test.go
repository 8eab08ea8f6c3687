package store

import (
	"math/bits"
	"slices"
	stdsync "sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"github.com/buzzmirror/buzzmirror/models"
)

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{30, []int{16, 8, 4, 2}},
		{64, []int{64}},
		{300, []int{128, 128, 32, 8, 4}},
	} {
		var got []int
		next := 0
		for start, n := range chunks(tc.n) {
			if start != next {
				t.Fatalf("chunks(%d): run at %d, want %d", tc.n, start, next)
			}
			got = append(got, n)
			next += n
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("chunks(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// Few texts: every size is a power of two up to maxChunk.
	for n := range 2000 {
		sum := 0
		for _, size := range chunks(n) {
			if size > maxChunk || bits.OnesCount(uint(size)) != 1 {
				t.Fatalf("chunks(%d) has a run of %d", n, size)
			}
			sum += size
		}
		if sum != n {
			t.Fatalf("chunks(%d) covers %d rows", n, sum)
		}
	}
}

func TestTexts(t *testing.T) {
	s := &shape{head: "INSERT INTO t (a, b) VALUES ", tail: " RETURNING a", width: 2}
	in := &shape{head: "SELECT a FROM t WHERE a IN (", tail: ")"}
	for _, tc := range []struct {
		postgres bool
		shape    *shape
		n        int
		want     string
	}{
		{false, s, 2, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) RETURNING a"},
		{true, s, 2, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING a"},
		{false, in, 3, "SELECT a FROM t WHERE a IN (?, ?, ?)"},
		{true, in, 1, "SELECT a FROM t WHERE a IN ($1)"},
	} {
		ts := &texts{postgres: tc.postgres}
		if got := ts.text(tc.shape, tc.n); got != tc.want {
			t.Errorf("text = %q, want %q", got, tc.want)
		}
		if again := ts.text(tc.shape, tc.n); again != tc.want {
			t.Errorf("kept text = %q, want %q", again, tc.want)
		}
	}
}

// TestTablesMatchModels checks that each hand-written table lists every
// column of its model, in the order its values and fields functions use.
func TestTablesMatchModels(t *testing.T) {
	check := func(t *testing.T, model any, columns []string, values, fields int) {
		t.Helper()
		s, err := schema.Parse(model, &stdsync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		if len(columns) != len(s.DBNames) || values != len(columns) || fields != len(columns) {
			t.Fatalf("%s: %d columns, %d values, %d fields; the model has %d: %v",
				s.Table, len(columns), values, fields, len(s.DBNames), s.DBNames)
		}
		for i, c := range columns {
			if s.LookUpField(c) == nil {
				t.Errorf("%s: column %s is not in the model", s.Table, c)
			}
			if want := s.DBNames[i]; c != want {
				t.Errorf("%s: column %d is %s, the model's field order says %s", s.Table, i, c, want)
			}
		}
	}
	t.Run("contacts", func(t *testing.T) { checkTable(t, liveTables.contacts, check) })
	t.Run("conversations", func(t *testing.T) { checkTable(t, liveTables.conversations, check) })
	t.Run("messages", func(t *testing.T) { checkTable(t, liveTables.messages, check) })
	t.Run("workflow_runs", func(t *testing.T) { checkTable(t, liveTables.workflowRuns, check) })
	t.Run("events", func(t *testing.T) {
		var e models.Event
		check(t, &e, eventColumns, len(eventValues(&e, nil)), len(eventColumns))
	})
}

func checkTable[T any](t *testing.T, tbl *table[T], check func(*testing.T, any, []string, int, int)) {
	t.Helper()
	var row T
	check(t, &row, tbl.columns, len(tbl.values(&row, nil)), len(tbl.fields(&row)))
}

// TestKeysMatchValues checks each table's keyOf against the values the
// writer compares it with.
func TestKeysMatchValues(t *testing.T) {
	s := func(v string) *string { return &v }
	at := models.NewTime(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	check := func(t *testing.T, name string, keys []any, at []int, vals []any) {
		t.Helper()
		var want []any
		for _, i := range at {
			want = append(want, vals[i])
		}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: keyOf = %v, values at the keys = %v", name, keys, want)
		}
	}
	c := &models.Contact{ID: "c", PhoneNorm: s("+1"), EmailNorm: s("a@b"), UpdatedAt: at}
	check(t, "contacts", liveTables.contacts.keyOf(c), liveTables.contacts.at, liveTables.contacts.values(c, nil))
	cv := &models.Conversation{ID: "v", ContactID: s("c"), UpdatedAt: at}
	check(t, "conversations", liveTables.conversations.keyOf(cv), liveTables.conversations.at, liveTables.conversations.values(cv, nil))
	m := &models.Message{ID: "m", ConversationID: "v", ContactID: s("c"), CreatedAt: at, UpdatedAt: at}
	check(t, "messages", liveTables.messages.keyOf(m), liveTables.messages.at, liveTables.messages.values(m, nil))
	r := &models.WorkflowRun{ID: "r", WorkflowID: "w", ContactID: s("c"), TriggeredAt: at}
	check(t, "workflow_runs", liveTables.workflowRuns.keyOf(r), liveTables.workflowRuns.at, liveTables.workflowRuns.values(r, nil))
}
