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
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for schema setup

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
func Comparable(m *store.Mirror) *store.Mirror {
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
