// Package storetest opens fresh, migrated databases for tests: SQLite
// always, Postgres when BUZZMIRROR_TEST_POSTGRES_DSN is set. Each database is
// private to its test (a temporary file, or a schema of its own), so tests
// run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for schema setup
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3" for Reset

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// PostgresEnv names the variable holding the Postgres test DSN.
const PostgresEnv = "BUZZMIRROR_TEST_POSTGRES_DSN"

// Drivers lists the drivers to test against. Under CI a missing Postgres
// DSN fails the test instead of skipping silently.
func Drivers(t testing.TB) []string {
	t.Helper()
	drivers := []string{store.DriverSQLite}
	if os.Getenv(PostgresEnv) != "" {
		drivers = append(drivers, store.DriverPostgres)
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not set: the Postgres tests would not run", PostgresEnv)
	}
	return drivers
}

// Each runs fn as a parallel subtest per driver, each with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, driver := range Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, driver))
		})
	}
}

// DSN returns a DSN for a fresh, empty database of driver, removed when the
// test ends.
func DSN(t testing.TB, driver string) string {
	t.Helper()
	if driver == store.DriverSQLite {
		return filepath.Join(t.TempDir(), "buzzmirror.db")
	}
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("%s is not set", PostgresEnv)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	adminExec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { adminExec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s must be a postgres:// URL: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated database of driver, closed when the test ends.
func Open(t testing.TB, driver string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), driver, DSN(t, driver), store.Options{})
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate %s: %v", driver, err)
	}
	return db
}

// adminExec runs one statement on a short-lived connection, so that tests
// creating many schemas do not exhaust the server's connection slots.
func adminExec(t testing.TB, dsn, stmt string) {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec(stmt); err != nil {
		t.Errorf("storetest: %s: %v", stmt, err)
	}
}

// Comparable zeroes the columns of a mirror that depend on when and in which
// transaction rows were written (syncedAt, seq), so that mirrors reached by
// different deliveries compare equal.
func Comparable(m *store.Dump) *store.Dump {
	var zero models.Time
	for i := range m.Contacts {
		m.Contacts[i].SyncedAt, m.Contacts[i].Seq = zero, 0
	}
	for i := range m.Conversations {
		m.Conversations[i].SyncedAt, m.Conversations[i].Seq = zero, 0
	}
	for i := range m.Messages {
		m.Messages[i].SyncedAt, m.Messages[i].Seq = zero, 0
	}
	for i := range m.WorkflowRuns {
		m.WorkflowRuns[i].SyncedAt, m.WorkflowRuns[i].Seq = zero, 0
	}
	return m
}

// Reusable is a migrated database that a property test empties between
// its cases: making a fresh one costs far more (on Postgres half a second,
// most of a case's time) than emptying it.
type Reusable struct {
	DB  *store.DB
	raw *sql.DB
}

// OpenReusable opens a migrated database of driver for Reset to empty,
// closed when the test ends.
func OpenReusable(t testing.TB, driver string) *Reusable {
	t.Helper()
	dsn := DSN(t, driver)
	db, err := store.Open(context.Background(), driver, dsn, store.Options{})
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate %s: %v", driver, err)
	}
	rawDriver, rawDSN := "pgx", dsn
	if driver == store.DriverSQLite {
		rawDriver, rawDSN = "sqlite3", "file:"+dsn+"?_busy_timeout=10000"
	}
	raw, err := sql.Open(rawDriver, rawDSN)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return &Reusable{DB: db, raw: raw}
}

// Reset empties every table but the schema's bookkeeping, and sets the
// counters, the change feed's clock and the projector lease back to their
// start.
func (r *Reusable) Reset() error {
	ctx := context.Background()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if r.DB.Driver() == store.DriverPostgres {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
	}
	rows, err := r.raw.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	stmts := []string{
		"UPDATE counters SET n = 0, at = NULL",
		"UPDATE feed_clock SET seq = 0, lease_holder = '', lease_epoch = 0, lease_until = 0",
	}
	for _, table := range tables {
		switch table {
		case "schema_migrations", "counters", "feed_clock":
		default:
			stmts = append(stmts, "DELETE FROM "+table)
		}
	}
	for _, s := range stmts {
		if _, err := r.raw.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("storetest: reset: %s: %w", s, err)
		}
	}
	return nil
}

// Exec runs statements on the database at dsn over a connection of its
// own, beside the store: for tests that put the database in a state the
// store would never make.
func Exec(t testing.TB, driver, dsn string, stmts ...string) {
	t.Helper()
	open := func() (*sql.DB, error) { return sql.Open("pgx", dsn) }
	if driver == store.DriverSQLite {
		open = func() (*sql.DB, error) { return store.OpenSQLite("file:" + dsn + "?_busy_timeout=10000") }
	}
	raw, err := open()
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("storetest: %s: %v", s, err)
		}
	}
}
