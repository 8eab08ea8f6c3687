package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockKey is the Postgres advisory lock every migrating instance
// takes, so several instances starting at once apply each step exactly once.
const migrationLockKey = 0x62757a7a6d6972 // "buzzmir"

type migration struct {
	version int
	name    string
	sql     string
	before  func(*gorm.DB) error // what the SQL cannot say, run first (migrationCode)
}

// migrationCode holds, by driver and version, what a migration does before
// its SQL that SQL cannot say.
var migrationCode = map[string]map[int]func(*gorm.DB) error{
	// The index a rebuild swapped in carries a generation suffix; 0005
	// replaces it whatever its name.
	DriverSQLite: {5: func(tx *gorm.DB) error {
		for _, table := range []string{"contacts", "messages"} {
			if err := dropSQLiteIndexOn(tx, table, "updated_at,id"); err != nil {
				return err
			}
		}
		return nil
	}},
}

// dropSQLiteIndexOn drops the indexes of table on exactly columns (comma
// separated, in order), whatever they are named.
func dropSQLiteIndexOn(tx *gorm.DB, table, columns string) error {
	var names []string
	err := tx.Raw(`SELECT m.name FROM sqlite_master m WHERE m.type = 'index' AND m.tbl_name = ? AND m.sql IS NOT NULL
		AND (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno)) = ?`,
		table, columns).Scan(&names).Error
	if err != nil {
		return fmt.Errorf("store: find the index on %s (%s): %w", table, columns, err)
	}
	for _, name := range names {
		if err := tx.Exec(`DROP INDEX "` + strings.ReplaceAll(name, `"`, `""`) + `"`).Error; err != nil {
			return fmt.Errorf("store: drop index %s: %w", name, err)
		}
	}
	return nil
}

// ErrSchemaOutdated means the database lacks migrations this binary needs.
var ErrSchemaOutdated = errors.New("database schema is older than this binary: run `buzzmirror migrate`")

// ErrSchemaNewer means a newer buzzmirror migrated the database; running an
// older binary against it could corrupt the mirror.
var ErrSchemaNewer = errors.New("database schema is newer than this binary")

func migrations(driver string) ([]migration, error) {
	dir := path.Join("migrations", driver)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", driver, err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration file %s is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b), before: migrationCode[driver][v]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations for %s are not numbered 1..n (found %s)", driver, m.name)
		}
	}
	return out, nil
}

// Migrate applies every pending migration, one transaction each, and
// returns the versions it applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	all, err := migrations(db.driver)
	if err != nil {
		return nil, err
	}
	var applied []int
	for {
		var done bool
		err := db.write.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			current, err := db.lockSchema(tx)
			if err != nil {
				return err
			}
			if current > len(all) {
				return fmt.Errorf("%w (database at %d, binary knows %d)", ErrSchemaNewer, current, len(all))
			}
			if current == len(all) {
				done = true
				return nil
			}
			m := all[current]
			if m.before != nil {
				if err := m.before(tx); err != nil {
					return fmt.Errorf("store: migration %s: %w", m.name, err)
				}
			}
			if err := tx.Exec(m.sql).Error; err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if err := tx.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
				m.version, formatNow(db)).Error; err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.name, err)
			}
			applied = append(applied, m.version)
			return nil
		})
		if err != nil {
			return applied, err
		}
		if done {
			return applied, nil
		}
	}
}

// CheckSchema fails unless the database is at exactly this binary's version.
func (db *DB) CheckSchema(ctx context.Context) error {
	all, err := migrations(db.driver)
	if err != nil {
		return err
	}
	var current int
	err = db.read.WithContext(ctx).Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current).Error
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrSchemaOutdated, err)
	}
	switch {
	case current < len(all):
		return fmt.Errorf("%w (database at %d, binary needs %d)", ErrSchemaOutdated, current, len(all))
	case current > len(all):
		return fmt.Errorf("%w (database at %d, binary knows %d)", ErrSchemaNewer, current, len(all))
	}
	return nil
}

// lockSchema serialises migrators and returns the schema version. On SQLite
// the writer's BEGIN IMMEDIATE already holds the database's write lock.
func (db *DB) lockSchema(tx *gorm.DB) (int, error) {
	if db.driver == DriverPostgres {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockKey).Error; err != nil {
			return 0, fmt.Errorf("store: migration lock: %w", err)
		}
	}
	err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`).Error
	if err != nil {
		return 0, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current).Error; err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return current, nil
}
