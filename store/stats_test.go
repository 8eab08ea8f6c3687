package store_test

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// TestStatsNeverCountTables: what /v1/stats and /metrics read comes from
// the counters and one index entry, never a COUNT over a table (which
// took 2 s on a 3M-event journal, and starved the read API under scrapes).
func TestStatsNeverCountTables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var sqls []string
		g := store.ReadGorm(db)
		capture := func(tx *gorm.DB) { sqls = append(sqls, tx.Statement.SQL.String()) }
		if err := g.Callback().Raw().After("gorm:raw").Register("test:capture", capture); err != nil {
			t.Fatal(err)
		}
		if err := g.Callback().Query().After("gorm:query").Register("test:capture", capture); err != nil {
			t.Fatal(err)
		}
		if err := g.Callback().Row().After("gorm:row").Register("test:capture", capture); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := db.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.OldestPending(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sqls) < 2 {
			t.Fatalf("captured %d statements", len(sqls))
		}
		for _, q := range sqls {
			if strings.Contains(strings.ToUpper(q), "COUNT(") {
				t.Errorf("stats count a table: %s", q)
			}
		}
	})
}
