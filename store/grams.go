package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// The q filter on contacts, on SQLite. A substring has no B-tree index to
// look it up in, and the driver is built without FTS5's trigram tokenizer
// (a build tag). So the mirror keeps its own trigram index: an FTS4 table
// beside contacts (mirror/sqlite.sql), kept by triggers, holding the
// distinct trigrams of each contact's search text as words. A search asks
// the index for the rows holding the rarest trigrams of q, then tests q
// itself on those rows: the index narrows, never decides.
//
// Asking FTS4 for a trigram costs in proportion to the rows holding it (it
// reads the whole list): on 1M messages a trigram of a common word cost
// 2-10 ms, a rare one 0.1-0.3 ms, a query naming every trigram of "order
// #10123" 25-30 ms. So a search names only q's rarest trigrams
// (rareGrams), as counted once in a while.
//
// Measured on the bench's 100,000 contacts (BENCHMARKS.md): the
// inspector's contact search at 8 connections, p99 190-200 ms -> 14-16 ms.
// Messages have no such index: on their 1M rows it made a rare word 4-60
// ms instead of 0.3-0.4 s, but FTS4 merges its segments inside a write,
// sixteen at a time, and at that size one merge held the write lock for
// 2.9 s (its incremental merges still delete what they merged at once);
// it also cost catch-up 18-26 % and a rebuild 18 %. Contacts are a tenth
// the rows, written seldom: their largest merge takes 0.1-0.2 s.

// gramsFunc is the SQL function the triggers call.
const gramsFunc = "buzz_grams"

// grams returns the distinct trigrams of s (runes, not bytes) and of its
// end, separated by spaces: the text the trigram index holds for s. s is
// already in lower case (the search column).
func grams(s string) string {
	if s == "" {
		return ""
	}
	return strings.Join(trigrams(append(indexRunes(s), textEnd, textEnd)), " ")
}

// searchWords are the words of the FTS4 query that finds the rows holding
// q: its trigrams; for two runes, the trigrams that begin with them (a
// prefix query); none for one rune, which nearly every row holds.
func searchWords(q string) []string {
	runes := indexRunes(strings.ToLower(q))
	if len(runes) == 2 {
		return []string{string(runes) + "*"}
	}
	return trigrams(runes)
}

// indexRunes is s as the trigram index spells it. FTS4's simple tokenizer
// splits words at ASCII characters other than letters and digits, so those
// become runes of the private use area, which it keeps in a word, as it
// keeps every other non-ASCII rune.
func indexRunes(s string) []rune {
	runes := []rune(s)
	for i, r := range runes {
		if r < utf8.RuneSelf && !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z') {
			runes[i] = privateUse + r
		}
	}
	return runes
}

// trigrams lists the distinct trigrams of runes, in order.
func trigrams(runes []rune) []string {
	var out []string
	seen := make(map[string]struct{}, len(runes))
	for i := 0; i+3 <= len(runes); i++ {
		g := string(runes[i : i+3])
		if _, dup := seen[g]; !dup {
			seen[g] = struct{}{}
			out = append(out, g)
		}
	}
	return out
}

// privateUse is where grams writes ASCII punctuation, spaces and controls.
const privateUse = 0xE000

// textEnd pads the end of a text, twice, so that every rune of it starts a
// trigram: a search for two runes asks for the trigrams that begin with
// them.
const textEnd = privateUse + 3

// A search reads at most rareRows rows through the trigram index: each
// is read by its rowid and tested, a few milliseconds in all. When the
// rows holding q's rarest trigrams are more, the list's index is read
// instead, newest first: a substring that common fills a page soon.
const rareRows = 2000

// countCap is how far a trigram's rows are counted: a trigram in more
// rows is never one of those a search narrows with (reading its list
// would cost more than it saves).
const countCap = 50_000

// narrowBy is how many of q's rarest trigrams a search narrows with:
// together they hold fewer rows than any one of them. (A phone number is
// often held by thousands of rows in each of its trigrams, and by one in
// all of them together.)
const narrowBy = 4

// maxProbes is how many of q's trigrams a search counts at most, spread
// along q: a long q needs no more to narrow, and each one not yet counted
// is a query.
const maxProbes = 16

// spread keeps n of words, evenly spaced, first and last included.
func spread(words []string, n int) []string {
	if len(words) <= n {
		return words
	}
	out := make([]string, n)
	for i := range out {
		out[i] = words[i*(len(words)-1)/(n-1)]
	}
	return out
}

// gramCounts remembers how many rows hold a trigram or a few together (up
// to a cap), for a while: counting a common one reads its whole list, and
// which trigrams are rare changes slowly. A stale count only makes a
// search slower, never wrong: any trigrams of q narrow to a set that holds
// every match.
type gramCounts struct {
	mu     sync.Mutex
	counts map[string]int // table + " " + FTS4 query
	since  time.Time
}

// gramCountsFor is how long counts are kept, and gramCountsMax how many.
const (
	gramCountsFor = 10 * time.Minute
	gramCountsMax = 100_000
)

func (c *gramCounts) get(key string, now time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.since) > gramCountsFor || len(c.counts) > gramCountsMax {
		c.counts, c.since = nil, now
	}
	n, ok := c.counts[key]
	return n, ok
}

func (c *gramCounts) put(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[key] = n
}

// countRows counts the rows of table's trigram index that match the FTS4
// query match, up to limit+1, remembered in db.gramCounts.
func (db *DB) countRows(ctx context.Context, table, match string, limit int) (int, error) {
	key := table + " " + match
	if n, ok := db.gramCounts.get(key, db.Now()); ok {
		return n, nil
	}
	var n int
	err := db.read.WithContext(ctx).Raw(
		fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %[1]s_grams WHERE %[1]s_grams MATCH ? LIMIT %d)", table, limit+1), match).
		Scan(&n).Error
	if err != nil {
		return 0, unavailable(fmt.Errorf("store: count rows of %s by trigram: %w", table, err))
	}
	db.gramCounts.put(key, n)
	return n, nil
}

// rareGrams returns the FTS4 query that narrows a search of table for q to
// at most rareRows rows, or "" when the list's index should be read
// instead: on Postgres (pg_trgm answers q from its own index), when q is
// one rune, or when q's rarest trigrams are in more rows than that.
func (db *DB) rareGrams(ctx context.Context, table, q string) (string, error) {
	if db.driver != DriverSQLite || q == "" {
		return "", nil
	}
	type count struct {
		word string
		rows int
	}
	var counted []count
	for _, w := range spread(searchWords(q), maxProbes) {
		n, err := db.countRows(ctx, table, w, countCap)
		if err != nil {
			return "", err
		}
		if n <= countCap {
			counted = append(counted, count{w, n})
		}
	}
	if len(counted) == 0 {
		return "", nil
	}
	slices.SortStableFunc(counted, func(a, b count) int { return a.rows - b.rows })
	words := make([]string, 0, narrowBy)
	for _, c := range counted[:min(len(counted), narrowBy)] {
		words = append(words, c.word)
	}
	match := strings.Join(words, " ")
	if counted[0].rows > rareRows {
		// Each is common enough, but they may seldom meet.
		n, err := db.countRows(ctx, table, match, rareRows)
		if err != nil || n > rareRows {
			return "", err
		}
	}
	return match, nil
}

// substring narrows q to rows of table whose search text holds text (in
// lower case), through the trigram index when match names rare trigrams.
func substring(q *gorm.DB, table, text, match string) *gorm.DB {
	q = q.Where(`search LIKE ? ESCAPE '\'`, likeContains(text))
	if match != "" {
		q = q.Where(fmt.Sprintf("%[1]s.rowid IN (SELECT docid FROM %[1]s_grams WHERE %[1]s_grams MATCH ?)", table), match)
	}
	return q
}
