package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

func TestGrams(t *testing.T) {
	// The end of a text is padded twice: every rune starts a trigram.
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a", "a\ue003\ue003"},
		{"abc", "abc bc\ue003 c\ue003\ue003"},
		{"aaaa", "aaa aa\ue003 a\ue003\ue003"},     // once, however often it occurs
		{"çãoé", "ção ãoé oé\ue003 é\ue003\ue003"}, // runes, not bytes
		{"a b.", "a\ue020b \ue020b\ue02e b\ue02e\ue003 \ue02e\ue003\ue003"}, // ASCII other than letters and digits: a word still
		{"\xff\xfe", "\ufffd\ufffd\ue003 \ufffd\ue003\ue003"},               // invalid UTF-8: a replacement rune a byte
	} {
		if got := grams(tc.in); got != tc.want {
			t.Errorf("grams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSearchWords(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"", nil},
		{"x", nil},                       // nearly every row: the list's index is read
		{"Ab", []string{"ab*"}},          // the trigrams that begin with it, the text's end included
		{"ABAB", []string{"aba", "bab"}}, // no padding: q's end is not the text's
		{"#1", []string{"\ue0231*"}},
	} {
		if got := searchWords(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("searchWords(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestSpread(t *testing.T) {
	words := strings.Fields("a b c d e f g h i j")
	for n, want := range map[int]string{2: "a j", 3: "a e j", 4: "a d g j", 10: "a b c d e f g h i j", 16: "a b c d e f g h i j"} {
		if got := strings.Join(spread(words, n), " "); got != want {
			t.Errorf("spread(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSubstringSearch holds contacts' q on SQLite, through the trigram
// index, to the plain definition: every contact whose search text holds
// q, in the list's order, after inserts, updates and deletes; q rare (the
// index narrows), common (more than rareRows rows hold each trigram: the
// list's index is read) and shorter than a trigram.
func TestSubstringSearch(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, DriverSQLite, "file:"+t.TempDir()+"/grams.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"order", "help", "refund", "ção", "50%", "a_b", `c\d`, "Ünïcode", "x"}
	body := func() string {
		n := 1 + rng.IntN(5)
		w := make([]string, n)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
			if rng.IntN(3) == 0 {
				w[i] += fmt.Sprint(rng.IntN(100000))
			}
		}
		return "Help: " + strings.Join(w, " ") // in every body: a common word
	}
	texts := map[string]string{} // contact id -> search text
	put := func(id, text string) {
		err := db.write.Exec(`INSERT INTO contacts (id, name, search, created_at, updated_at, synced_at, seq)
			VALUES (?, ?, ?, '2026-01-01T00:00:00.000000000Z', ?, '2026-01-01T00:00:00.000000000Z', 1)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, search = excluded.search, updated_at = excluded.updated_at`,
			id, text, strings.ToLower(text), fmt.Sprintf("2026-01-01T00:%02d:%02d.000000000Z", rng.IntN(60), rng.IntN(60))).Error
		if err != nil {
			t.Fatal(err)
		}
		texts[id] = text
	}
	const n = 3000 // more than rareRows, so that common words take the other path
	for i := range n {
		put(fmt.Sprintf("cnt_%d", i), body())
	}
	check := func(stage string) {
		t.Helper()
		var qs []string
		for range 40 {
			b := texts[fmt.Sprintf("cnt_%d", rng.IntN(n))]
			if r := []rune(b); len(r) > 0 {
				i := rng.IntN(len(r))
				qs = append(qs, string(r[i:min(len(r), i+1+rng.IntN(12))]))
			}
		}
		qs = append(qs, "ORDER", "help", "ção", "%", "_", `\`, "50%", "a_b", "nothing like it", "ünï", "refund 4", "çã", "ão", "o", "d ", "ÜN", "zz", "p:")
		for _, q := range qs {
			var want []string
			for id, b := range texts {
				if strings.Contains(strings.ToLower(b), strings.ToLower(q)) {
					want = append(want, id)
				}
			}
			var got []string
			err := db.ExportContacts(ctx, ContactFilter{Q: q}, func(_ context.Context, rows []models.Contact) error {
				for _, m := range rows {
					got = append(got, m.ID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			page, _, err := db.Contacts(ctx, ContactFilter{Q: q}, Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != min(10, len(got)) || (len(page) > 0 && page[0].ID != got[0]) {
				t.Errorf("%s: q=%q: the first page disagrees with the export", stage, q)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: q=%q: %d contacts, want %d", stage, q, len(got), len(want))
			}
		}
	}
	for q, narrowed := range map[string]bool{"help": false, "he": false, "h": false, "ção": true, "12345": true, "zzz": true, "çã": true, "zz": true} {
		if match, err := db.rareGrams(ctx, "contacts", q); err != nil || (match != "") != narrowed {
			t.Fatalf("q=%q: the index narrows to %q (%v), want it to narrow: %v", q, match, err, narrowed)
		}
	}
	// Narrowed, a page reads the rows the index names by rowid and sorts
	// them, whatever the planner might think of reading the list's index.
	plan := db.read.ToSQL(func(tx *gorm.DB) *gorm.DB {
		q := substring(tx.Model(&models.Contact{}), "contacts", "order #10017", "001 017")
		return q.Order("updated_at DESC, id DESC").Limit(51).Find(&[]models.Contact{})
	})
	var steps []string
	rows, err := db.read.Raw("EXPLAIN QUERY PLAN " + plan).Rows()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	rows.Close()
	if !slices.ContainsFunc(steps, func(s string) bool { return strings.Contains(s, "INTEGER PRIMARY KEY") }) {
		t.Errorf("a narrowed search reads:\n%s", strings.Join(steps, "\n"))
	}
	check("inserted")
	for i := range n / 3 { // new texts, some empty
		b := body()
		if i%4 == 0 {
			b = ""
		}
		put(fmt.Sprintf("cnt_%d", rng.IntN(n)), b)
	}
	for range n / 10 {
		id := fmt.Sprintf("cnt_%d", rng.IntN(n))
		if err := db.write.Exec("DELETE FROM contacts WHERE id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		delete(texts, id)
	}
	db.gramCounts = gramCounts{} // counts change with the rows; a stale one only costs time
	check("updated and deleted")

	// Name, phone and email, one a line.
	err = db.write.Exec(`INSERT INTO contacts (id, phone, name, email, search, created_at, updated_at, synced_at, seq) VALUES
		('c1', '+21650000001', 'Amira Ben Salah', 'amira@example.com', ?, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', 1),
		('c2', '+21650000002', 'Omar', 'omar@example.org', ?, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:01.000000000Z', '2026-01-01T00:00:00.000000000Z', 1)`,
		"amira ben salah\n+21650000001\namira@example.com", "omar\n+21650000002\nomar@example.org").Error
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"AMIRA": {"c1"}, "example": {"c2", "c1"}, "0000002": {"c2"}, ".org": {"c2"}, "ar": {"c2"}, "zzz": nil, "ah\n+2": {"c1"},
		"rg": {"c2"}, "c1": nil,
	} {
		rows, _, err := db.Contacts(ctx, ContactFilter{Q: q}, Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range rows {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("contacts q=%q: %v, want %v", q, got, want)
		}
	}
}
