package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLiteSettings checks the settings the durability promise rests on
// reach both pools.
func TestSQLiteSettings(t *testing.T) {
	db, err := Open(context.Background(), DriverSQLite, filepath.Join(t.TempDir(), "s.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"}
	for name, g := range map[string]*DB{"write": {read: db.write}, "read": {read: db.read}} {
		for pragma, value := range want {
			var got string
			if err := g.read.Raw("PRAGMA " + pragma).Scan(&got).Error; err != nil {
				t.Fatal(err)
			}
			if got != value {
				t.Errorf("%s pool: PRAGMA %s = %s, want %s", name, pragma, got, value)
			}
		}
	}
	var readOnly string
	db.read.Raw("PRAGMA query_only").Scan(&readOnly)
	if readOnly != "1" {
		t.Errorf("read pool is not query_only")
	}
}
