package store

import (
	"fmt"
	"iter"
	"math/bits"
	"strconv"
	"strings"
	stdsync "sync"
)

// The writer's statements carry many rows each, and a statement's text
// depends on how many. SQLite compiles every text it has not seen on that
// connection (the writer keeps the compiled ones, see sqliteDSN), and GORM
// rebuilt each statement by reflection; together they were a fifth of the
// writer's CPU (a profile of `bench ingest`). So the writer's bulk
// statements are written here, once per row count, and rows go in chunks
// whose sizes are powers of two: any number of rows takes at most eight
// statements, each of a text the connection has compiled before.

// maxChunk is the most rows one bulk statement carries: 128 rows of the
// widest table (15 columns) stay far below both databases' parameter
// limits.
const maxChunk = 128

// chunks splits n rows into runs whose lengths are powers of two, largest
// first, and yields each run's start and length.
func chunks(n int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		start := 0
		for n > 0 {
			size := min(maxChunk, 1<<(bits.Len(uint(n))-1))
			if !yield(start, size) {
				return
			}
			start += size
			n -= size
		}
	}
}

// texts builds and keeps the text of each bulk statement, by shape and row
// count, in the database's placeholder style.
type texts struct {
	postgres bool
	m        stdsync.Map // textKey, or a query rebind saw, -> its text
}

type textKey struct {
	shape *shape
	n     int
}

// shape is a kind of bulk statement: head, then n tuples of width
// placeholders separated by commas (or a list of n placeholders when
// width is 0, for IN), then tail.
type shape struct {
	head, tail string
	width      int
}

// text is the statement of shape s for n rows.
func (t *texts) text(s *shape, n int) string {
	key := textKey{s, n}
	if v, ok := t.m.Load(key); ok {
		return v.(string)
	}
	var b strings.Builder
	b.WriteString(s.head)
	arg := 0
	param := func() {
		arg++
		if t.postgres {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(arg))
		} else {
			b.WriteByte('?')
		}
	}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.width == 0 {
			param()
			continue
		}
		b.WriteByte('(')
		for j := range s.width {
			if j > 0 {
				b.WriteString(", ")
			}
			param()
		}
		b.WriteByte(')')
	}
	b.WriteString(s.tail)
	v, _ := t.m.LoadOrStore(key, b.String())
	return v.(string)
}

// rebind is query in this database's placeholder style: ? becomes $1, $2,
// ... on Postgres. query holds no ? but its placeholders.
func (t *texts) rebind(query string) string {
	if !t.postgres {
		return query
	}
	if v, ok := t.m.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	arg := 0
	for _, c := range query {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		arg++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(arg))
	}
	v, _ := t.m.LoadOrStore(query, b.String())
	return v.(string)
}

// upsertShape writes whole rows of table; when the id is stored, it sets
// the columns in set.
func upsertShape(table string, columns, set []string) *shape {
	assign := make([]string, len(set))
	for i, c := range set {
		assign[i] = fmt.Sprintf("%s = excluded.%s", c, c)
	}
	return &shape{
		head:  fmt.Sprintf("INSERT INTO %s (%s) VALUES ", table, strings.Join(columns, ", ")),
		tail:  " ON CONFLICT (id) DO UPDATE SET " + strings.Join(assign, ", "),
		width: len(columns),
	}
}

// insertShape writes whole rows of table that are not stored.
func insertShape(table string, columns []string) *shape {
	return &shape{head: fmt.Sprintf("INSERT INTO %s (%s) VALUES ", table, strings.Join(columns, ", ")), width: len(columns)}
}

// selectShape reads the rows of table with the listed ids.
func selectShape(table string, columns []string) *shape {
	return &shape{head: fmt.Sprintf("SELECT %s FROM %s WHERE id IN (", strings.Join(columns, ", "), table), tail: ")"}
}
