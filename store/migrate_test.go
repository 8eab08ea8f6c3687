package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestConcurrentMigrate starts several migrators on one empty database at
// once, as several instances starting together would: each step is applied
// exactly once and all of them succeed.
func TestConcurrentMigrate(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := storetest.DSN(t, driver)
			const n = 4
			applied := make([][]int, n)
			errs := make([]error, n)
			var wg gosync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := store.Open(ctx, driver, dsn, store.Options{})
					if err != nil {
						errs[i] = err
						return
					}
					defer db.Close()
					applied[i], errs[i] = db.Migrate(ctx)
				}()
			}
			wg.Wait()
			total := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("migrator %d: %v", i, errs[i])
				}
				total += len(applied[i])
			}
			fresh, err := store.Open(ctx, driver, storetest.DSN(t, driver), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			steps, err := fresh.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if total != len(steps) {
				t.Fatalf("migrators applied %d steps in all, want each of the %d once: %v", total, len(steps), applied)
			}
			other, err := store.Open(ctx, driver, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := other.CheckSchema(ctx); err != nil {
				t.Fatalf("after concurrent migration: %v", err)
			}
			if again, err := other.Migrate(ctx); err != nil || len(again) != 0 {
				t.Fatalf("second migrate applied %v, %v", again, err)
			}
		})
	}
}

func TestCheckSchemaRefusesOutdated(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), driver, storetest.DSN(t, driver), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.CheckSchema(context.Background()); !errors.Is(err, store.ErrSchemaOutdated) {
				t.Fatalf("empty database: got %v, want ErrSchemaOutdated", err)
			}
		})
	}
}

// TestSearchIndexReplacesRenamedOne migrates a SQLite database whose list
// indexes a rebuild renamed (contacts_updated_g3) from version 4: the old
// index goes whatever its name, the new one carries the search text, and
// a search on contacts or messages tests that text in the index and reads
// a row only when it matches (the deferred seek).
func TestSearchIndexReplacesRenamedOne(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, store.DriverSQLite)
	g := store.WriteGorm(db)
	for _, stmt := range []string{
		"DROP INDEX contacts_updated", "CREATE INDEX contacts_updated_g3 ON contacts (updated_at, id)",
		"DROP INDEX messages_updated", "CREATE INDEX messages_updated_g3 ON messages (updated_at, id)",
		"DROP TABLE contacts_grams",
		"DROP TRIGGER contacts_grams_insert", "DROP TRIGGER contacts_grams_update", "DROP TRIGGER contacts_grams_delete",
		"DELETE FROM schema_migrations WHERE version >= 5",
	} {
		if err := g.Exec(stmt).Error; err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if applied, err := db.Migrate(ctx); err != nil || !slices.Equal(applied, []int{5, 6}) {
		t.Fatalf("migrate applied %v, %v; want [5 6]", applied, err)
	}
	for _, table := range []string{"contacts", "messages"} {
		var indexes []string
		err := g.Raw(`SELECT il.name || ' (' || (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno)) || ')'
			FROM pragma_index_list(?) il WHERE il.origin = 'c' ORDER BY 1`, table).Scan(&indexes).Error
		if err != nil {
			t.Fatal(err)
		}
		want := table + "_updated (updated_at,id,search)"
		if !slices.Contains(indexes, want) || slices.ContainsFunc(indexes, func(s string) bool { return strings.HasSuffix(s, "(updated_at,id)") }) {
			t.Errorf("%s indexes after migration: %v; want %s and none on (updated_at,id) alone", table, indexes, want)
		}
	}

	// Capture the searches' SQL as the store sends it, and read its program.
	r := store.ReadGorm(db)
	captured := captureSQL(t, r)
	page := store.Page{Limit: 50}
	// (One rune: a search the trigram index does not narrow.)
	if _, _, err := db.Contacts(ctx, store.ContactFilter{Q: "a"}, page); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Messages(ctx, store.MessageFilter{Q: "1"}, page); err != nil {
		t.Fatal(err)
	}
	if len(captured.sqls) != 2 {
		t.Fatalf("captured %d queries, want 2", len(captured.sqls))
	}
	for i, q := range captured.sqls {
		table := map[bool]string{true: "contacts", false: "messages"}[i == 0]
		var root int64
		if err := r.Raw("SELECT rootpage FROM sqlite_master WHERE name = ?", table+"_updated").Scan(&root).Error; err != nil {
			t.Fatal(err)
		}
		rows, err := r.Raw("EXPLAIN "+q, captured.vars[i]...).Rows()
		if err != nil {
			t.Fatal(err)
		}
		// The index's cursor is the one opened on its root page; until the
		// LIKE has run, no column may come from any other cursor.
		var program []string
		index, liked, early := int64(-1), false, false
		for rows.Next() {
			var addr, p1, p2, p3, p5 int64
			var op string
			var p4, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			program = append(program, fmt.Sprint(addr, " ", op, " ", p1, " ", p2, " ", p3, " ", p4))
			switch {
			case op == "OpenRead" && p2 == root:
				index = p1
			case op == "Function" && strings.Contains(fmt.Sprint(p4), "like"):
				liked = true
			case op == "Column" && !liked && p1 != index:
				early = true
			}
		}
		rows.Close()
		if index < 0 || !liked || early {
			t.Errorf("%s\nshould test the search text in %s_updated before it reads the row:\n%s", q, table, strings.Join(program, "\n"))
		}
	}
}
