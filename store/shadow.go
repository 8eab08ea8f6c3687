package store

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"text/template"

	"gorm.io/gorm"
)

// A rebuild fills a second set of mirror tables (the shadow, named with
// shadowPrefix) from the journal while the live ones keep serving, then
// swaps them in one short transaction by renaming: readers see the old
// mirror until that commit, the new one after it.

//go:embed mirror
var mirrorTemplates embed.FS

// retiredPrefix names the live tables a swap replaced, until they are
// dropped.
const retiredPrefix = "retired_"

// mirrorDDL is the script that creates a whole mirror whose tables carry
// prefix and whose indexes carry suffix. (Index names are global to the
// database, and a swapped-in table keeps its indexes' names.)
func mirrorDDL(driver, prefix, suffix string) (string, error) {
	src, err := mirrorTemplates.ReadFile("mirror/" + driver + ".sql")
	if err != nil {
		return "", fmt.Errorf("store: mirror schema for %s: %w", driver, err)
	}
	tmpl, err := template.New(driver).Funcs(template.FuncMap{
		"T": func(name string) string { return prefix + name },
		"I": func(name string) string { return name + suffix },
	}).Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("store: mirror schema for %s: %w", driver, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// CreateShadow makes an empty shadow mirror, dropping what an earlier
// rebuild left of one, and returns its generation.
func (db *DB) CreateShadow(ctx context.Context) (int64, error) {
	if err := db.dropTables(ctx, shadowPrefix, nil); err != nil {
		return 0, err
	}
	var gen int64
	if err := db.read.WithContext(ctx).Raw("SELECT generation FROM feed_clock WHERE id = 1").Scan(&gen).Error; err != nil {
		return 0, unavailable(fmt.Errorf("store: read mirror generation: %w", err))
	}
	gen++
	script, err := mirrorDDL(db.driver, shadowPrefix, fmt.Sprintf("_g%d", gen))
	if err != nil {
		return 0, err
	}
	err = db.writeStatements(ctx, func(g *gorm.DB) error {
		if err := g.Exec(script).Error; err != nil {
			return fmt.Errorf("store: create shadow mirror: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return gen, nil
}

// SwapShadow replaces the live mirror by the shadow one, in this
// transaction: the live tables become retired (DropRetired removes them),
// the shadow tables live. seq is where the change feed goes on from:
// every row the rebuild changed carries it, so it must lie past every
// position handed out before.
func (tx *Tx) SwapShadow(gen, seq int64) error {
	driver := DriverSQLite
	if tx.texts.postgres {
		driver = DriverPostgres
	}
	for _, t := range mirrorTablesOf(driver) {
		for _, rename := range [][2]string{{t, retiredPrefix + t}, {shadowPrefix + t, t}} {
			if err := tx.g.Exec("ALTER TABLE " + rename[0] + " RENAME TO " + rename[1]).Error; err != nil {
				return fmt.Errorf("store: swap in the rebuilt %s: %w", t, err)
			}
		}
	}
	err := tx.g.Exec("UPDATE feed_clock SET generation = ?, seq = CASE WHEN seq < ? THEN ? ELSE seq END WHERE id = 1", gen, seq, seq).Error
	if err != nil {
		return fmt.Errorf("store: record the swap: %w", err)
	}
	return nil
}

// TidyShadow readies the filled shadow tables on Postgres before they
// replace the live ones: VACUUM (ANALYZE) gathers the planner's statistics
// and clears what the rebuild's own updates left behind. A rebuild writes
// a conversation again each time its bounded cache reloads it, and once
// more to sum up its messages: after 1.3M events the shadow conversations
// held 1.2M dead row versions beside 200,000 live ones, and no page was
// marked all-visible. Readers then paid for it until autovacuum came by
// (if it is on at all): planning a range condition such as updatedSince
// walked the dead index entries (23 ms a query), and every index scan
// visited the heap. bench read at 16 connections, 30 s, on two copies
// of one seeded 1.3M-event journal, each rebuilt by one version, run
// interleaved: ANALYZE alone 1,311 and 1,595 requests/s, p99 53 and
// 41 ms; VACUUM (ANALYZE) 2,949 and 2,674/s, p99 17 and 19 ms. The
// rebuild took 209 s instead of 193. Without statistics the planner guessed
// worse still (109/s, p99 882 ms). Nothing reads the shadow yet, so the
// vacuum disturbs no one. SQLite plans from its indexes alone (its
// ANALYZE would hold the only write lock for seconds), so it is left
// alone.
func (db *DB) TidyShadow(ctx context.Context) error {
	if db.driver != DriverPostgres {
		return nil
	}
	for _, t := range mirrorTables {
		if err := db.write.WithContext(ctx).Exec("VACUUM (ANALYZE) " + shadowPrefix + t).Error; err != nil {
			return unavailable(fmt.Errorf("store: vacuum the rebuilt %s: %w", t, err))
		}
	}
	return nil
}

// DropShadow removes the shadow mirror, after a rebuild gave up.
func (db *DB) DropShadow(ctx context.Context) error { return db.dropTables(ctx, shadowPrefix, nil) }

// DropRetired removes the tables a swap retired. progress, when not nil,
// hears how many rows are left to delete.
func (db *DB) DropRetired(ctx context.Context, progress func(left int64)) error {
	return db.dropTables(ctx, retiredPrefix, progress)
}

// dropTables drops the mirror tables named with prefix, if they exist. On
// SQLite dropping a large table frees every page it had in one statement,
// which would hold the only write lock (and deliveries) for seconds: its
// rows are deleted a few thousand at a time first, each batch in a
// transaction of its own.
func (db *DB) dropTables(ctx context.Context, prefix string, progress func(int64)) error {
	for _, t := range mirrorTablesOf(db.driver) {
		name := prefix + t
		exists, err := db.tableExists(ctx, name)
		if err != nil || !exists {
			if err != nil {
				return err
			}
			continue
		}
		if db.driver == DriverSQLite {
			if err := db.emptySQLiteTable(ctx, name, progress); err != nil {
				return err
			}
		}
		if err := db.writeStatements(ctx, func(g *gorm.DB) error { return g.Exec("DROP TABLE " + name).Error }); err != nil {
			return unavailable(fmt.Errorf("store: drop %s: %w", name, err))
		}
	}
	return nil
}

// emptySQLiteTable empties a mirror table or trigram index about to be
// dropped, a batch at a time. A table's triggers go first: they would
// index each deletion. A trigram index keeps its rows' trigrams in its
// _content table and its lists in blocks of its _segments table; what is
// left after those is small.
func (db *DB) emptySQLiteTable(ctx context.Context, name string, progress func(int64)) error {
	if isGramTable(name) {
		for _, part := range []string{"_content", "_segments"} {
			if err := db.emptyGently(ctx, name+part, nil); err != nil {
				return err
			}
		}
		return nil
	}
	var triggers []string
	err := db.write.WithContext(ctx).Raw("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", name).Scan(&triggers).Error
	if err != nil {
		return unavailable(fmt.Errorf("store: triggers of %s: %w", name, err))
	}
	for _, trigger := range triggers {
		if err := db.writeStatements(ctx, func(g *gorm.DB) error { return g.Exec(`DROP TRIGGER "` + trigger + `"`).Error }); err != nil {
			return unavailable(fmt.Errorf("store: drop trigger %s: %w", trigger, err))
		}
	}
	return db.emptyGently(ctx, name, progress)
}

// dropBatch is how many rows a gentle delete removes in one transaction.
const dropBatch = 2000

func (db *DB) emptyGently(ctx context.Context, table string, progress func(int64)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var deleted int64
		err := db.writeStatements(ctx, func(g *gorm.DB) error {
			res := g.Exec(fmt.Sprintf("DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s LIMIT %d)", table, table, dropBatch))
			deleted = res.RowsAffected
			return res.Error
		})
		if err != nil {
			return unavailable(fmt.Errorf("store: empty %s: %w", table, err))
		}
		if deleted < dropBatch {
			return nil
		}
		if progress != nil {
			var left int64
			db.read.WithContext(ctx).Raw("SELECT COUNT(*) FROM " + table).Scan(&left)
			progress(left)
		}
	}
}

func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if db.driver == DriverPostgres {
		q = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
	}
	var n int
	if err := db.write.WithContext(ctx).Raw(q, name).Scan(&n).Error; err != nil {
		return false, unavailable(fmt.Errorf("store: look for table %s: %w", name, err))
	}
	return n > 0, nil
}

// RemovedRows calls fn with the ids of kind's live rows that the shadow
// mirror lacks, a page at a time, each page read in a snapshot of its own.
func (db *DB) RemovedRows(ctx context.Context, kind string, fn func(ids []string) error) error {
	table := feedTables[kind]
	after := ""
	for {
		var ids []string
		err := db.read.WithContext(ctx).Raw(
			"SELECT l.id FROM "+table+" l WHERE l.id > ? AND NOT EXISTS (SELECT 1 FROM "+shadowPrefix+table+" s WHERE s.id = l.id) ORDER BY l.id LIMIT ?",
			after, dropBatch).Scan(&ids).Error
		if err != nil {
			return unavailable(fmt.Errorf("store: rows the rebuild removed from %s: %w", table, err))
		}
		if len(ids) > 0 {
			if err := fn(ids); err != nil {
				return err
			}
		}
		if len(ids) < dropBatch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
