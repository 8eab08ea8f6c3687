package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	. "github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestShadowMatchesLive holds the mirror schema a rebuild creates
// (mirror/*.sql) to the one the migrations leave: the same columns, types,
// defaults and indexes, table by table. A migration that changes the
// mirror must change the template too.
func TestShadowMatchesLive(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, driver)
			if _, err := db.CreateShadow(ctx); err != nil {
				t.Fatal(err)
			}
			sqlDB, _ := WriteGorm(db).DB()
			for _, table := range MirrorTables(driver) {
				live, shadow := describe(t, sqlDB, driver, table), describe(t, sqlDB, driver, ShadowPrefix+table)
				if !slices.Equal(live, shadow) {
					t.Errorf("%s: the rebuild's table differs from the migrated one:\n live   %s\n shadow %s",
						table, strings.Join(live, "\n        "), strings.Join(shadow, "\n        "))
				}
			}
		})
	}
}

// describe lists a table's columns and indexes as text that does not
// depend on the table's name or its indexes' generation suffix.
func describe(t *testing.T, db *sql.DB, driver, table string) []string {
	t.Helper()
	var out []string
	query := func(q string, args ...any) {
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprint(vals...)
			line = strings.ReplaceAll(line, ShadowPrefix, "")
			line = regexp.MustCompile(`_g\d+\b`).ReplaceAllString(line, "")
			line = strings.ReplaceAll(line, "sqlite_autoindex_"+table, "sqlite_autoindex_")
			out = append(out, line)
		}
	}
	base := strings.TrimPrefix(table, ShadowPrefix)
	if driver == DriverSQLite {
		query("SELECT name, type, \"notnull\", COALESCE(dflt_value, ''), pk FROM pragma_table_info(?) ORDER BY cid", table)
		query(`SELECT il."unique", il.origin, group_concat(ii.name, ',') FROM pragma_index_list(?) il, pragma_index_info(il.name) ii
			GROUP BY il.name ORDER BY group_concat(ii.name, ','), il.origin`, table)
		query("SELECT replace(sql, ?, '') FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name", ShadowPrefix, table)
		query("SELECT replace(sql, ?, '') FROM sqlite_master WHERE type = 'table' AND name = ?", ShadowPrefix, base+"_grams")
		return out
	}
	query(`SELECT column_name, data_type, is_nullable, COALESCE(column_default, ''), COALESCE(collation_name, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	query(`SELECT regexp_replace(regexp_replace(indexdef, 'INDEX \S+ ON \S+', 'INDEX ON'), '`+base+`', '', 'g')
		FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 ORDER BY 1`, table)
	return out
}

// TestLease walks the projector lease through what a projector meets:
// taken, refused to another, renewed, preempted by a rebuild (the old
// holder's write sees the new epoch), released, and lapsed.
func TestLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		a, ok, err := db.AcquireLease(ctx, "a", time.Minute, false)
		if err != nil || !ok {
			t.Fatalf("first acquire: %v %v", ok, err)
		}
		if _, ok, _ := db.AcquireLease(ctx, "b", time.Minute, false); ok {
			t.Fatal("a held lease was given to another")
		}
		if ok, err := db.RenewLease(ctx, a, time.Minute); err != nil || !ok {
			t.Fatalf("renew: %v %v", ok, err)
		}
		if l, err := db.CurrentLease(ctx); err != nil || !l.Held || l.Holder != "a" || l.Epoch != a {
			t.Fatalf("current lease %+v, %v", l, err)
		}
		r, ok, err := db.AcquireLease(ctx, "rebuild", time.Minute, true)
		if err != nil || !ok || r == a {
			t.Fatalf("preempt: epoch %d (was %d) %v %v", r, a, ok, err)
		}
		if ok, _ := db.RenewLease(ctx, a, time.Minute); ok {
			t.Fatal("the preempted holder renewed its lease")
		}
		err = db.Write(ctx, func(tx *Tx) error {
			got, err := tx.LeaseEpoch()
			if err != nil {
				return err
			}
			if got != r {
				t.Errorf("a writer saw epoch %d, want the rebuild's %d", got, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.ReleaseLease(ctx, r); err != nil {
			t.Fatal(err)
		}
		short, ok, err := db.AcquireLease(ctx, "c", 50*time.Millisecond, false)
		if err != nil || !ok {
			t.Fatalf("acquire after release: %v %v", ok, err)
		}
		time.Sleep(150 * time.Millisecond)
		if _, ok, _ := db.AcquireLease(ctx, "d", time.Minute, false); !ok {
			t.Fatalf("a lapsed lease (epoch %d) was not given to another", short)
		}
	})
}

// TestSwapShadow fills a shadow mirror beside the live one and swaps them:
// readers see the live rows until the swap commits and the shadow's after,
// the change feed goes on past the swap's position, and the retired tables
// go.
func TestSwapShadow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		at := models.NewTime(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
		contact := func(id, name string, seq int64) *models.Contact {
			return &models.Contact{ID: id, Name: &name, Search: name, Tags: models.JSON(`[]`), Fields: models.JSON(`{}`), Extra: models.JSON(`{}`),
				Versions: models.Versions{}, CreatedAt: at, UpdatedAt: at, SyncedAt: at, Seq: seq}
		}
		err := db.Write(ctx, func(tx *Tx) error {
			return tx.Live().PutContacts([]*models.Contact{contact("c1", "live", tx.Seq())}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		gen, err := db.CreateShadow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const swapSeq = 1 << 32
		err = db.Write(ctx, func(tx *Tx) error {
			return tx.Shadow().PutContacts([]*models.Contact{contact("c1", "rebuilt", swapSeq), contact("c2", "new", swapSeq)},
				map[string][]string{"c2": {"vip"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := db.Contact(ctx, "c1"); err != nil || *c.Name != "live" {
			t.Fatalf("before the swap readers see %v, %v", c, err)
		}
		if err := db.Write(ctx, func(tx *Tx) error { return tx.SwapShadow(gen, swapSeq) }); err != nil {
			t.Fatal(err)
		}
		if c, err := db.Contact(ctx, "c1"); err != nil || *c.Name != "rebuilt" {
			t.Fatalf("after the swap readers see %v, %v", c, err)
		}
		if rows, _, err := db.Contacts(ctx, ContactFilter{Tags: []string{"vip"}}, Page{Limit: 5}); err != nil || len(rows) != 1 || rows[0].ID != "c2" {
			t.Fatalf("the shadow's tags did not come with it: %v, %v", rows, err)
		}
		// q, through SQLite's trigram index: the shadow's came with it, and
		// the swapped-in table's triggers keep it.
		err = db.Write(ctx, func(tx *Tx) error {
			return tx.Live().PutContacts([]*models.Contact{contact("c3", "later", swapSeq+1)}, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		search := func(q string, want ...string) {
			t.Helper()
			rows, _, err := db.Contacts(ctx, ContactFilter{Q: q}, Page{Limit: 5})
			var got []string
			for _, c := range rows {
				got = append(got, c.ID)
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("q=%q: %v, %v; want %v", q, got, err, want)
			}
		}
		search("rebuil", "c1")
		search("live")
		search("ater", "c3")
		if end, err := db.FeedEnd(ctx); err != nil || end.Seq <= swapSeq {
			t.Fatalf("the feed goes on from %v (%v), want past %d", end, err, swapSeq)
		}
		if err := db.DropRetired(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for _, table := range MirrorTables(db.Driver()) {
			if ok, err := TableExists(db, ctx, RetiredPrefix+table); err != nil || ok {
				t.Errorf("%s%s is still there (%v)", RetiredPrefix, table, err)
			}
		}
		search("ater", "c3")
		// A second rebuild makes its own generation beside the first's.
		if _, err := db.CreateShadow(ctx); err != nil {
			t.Fatalf("second shadow: %v", err)
		}
	})
}
