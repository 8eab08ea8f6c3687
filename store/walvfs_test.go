package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/models"
)

func TestSetsSynchronous(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/var/lib/buzzmirror.db", false},
		{"file:m.db?_busy_timeout=5", false},
		{"m.db?_synchronous=NORMAL", true},
		{"file:m.db?mode=rwc&_sync=1", true},
		{"m.db?%zz", true}, // unparseable: assume the worst
	} {
		if got := setsSynchronous(tc.path); got != tc.want {
			t.Errorf("setsSynchronous(%q) = %v, want %v", tc.path, got, tc.want)
		}
		if got := strings.Contains(sqliteDSN(tc.path, sqliteWriter), "vfs="+walVFS); got == tc.want {
			t.Errorf("writer DSN for %q uses %s: %v", tc.path, walVFS, got)
		}
	}
	if dsn := sqliteDSN("m.db", sqliteReader); strings.Contains(dsn, "vfs=") {
		t.Errorf("reader DSN %q names a VFS", dsn)
	}
}

// TestWALVFSGathersWrites checks a transaction's WAL frames reach the file
// in a few large writes.
func TestWALVFSGathersWrites(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "gather.db"))
	writes0, flushes0 := walVFSStats()
	writeEvents(t, db, 0)
	writes, flushes := walVFSStats()
	writes, flushes = writes-writes0, flushes-flushes0
	// Tests running beside this one may write WAL files too; this
	// transaction alone asks for thousands of writes and gathers them into
	// a few dozen.
	if writes < perTx || flushes*4 > writes {
		t.Errorf("WAL writes: %d asked, %d reached the file", writes, flushes)
	}
	t.Logf("WAL writes: %d asked, %d reached the file", writes, flushes)
	checkEvents(t, "writer", &DB{read: db.write}, 1)
}

// TestWALVFSSpill writes transactions far larger than the write buffer
// through a page cache so small that SQLite spills pages into the WAL
// before commit and reads them back, and checks every row arrives whole,
// through the writer, a reader and a fresh connection.
func TestWALVFSSpill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill.db") + "?_cache_size=-64"
	db := openSQLite(t, path)
	const txs = 3
	for i := range txs {
		writeEvents(t, db, i)
	}
	checkEvents(t, "reader", db, txs)
	checkEvents(t, "writer", &DB{read: db.write}, txs)
	db.Close()
	checkEvents(t, "reopened", openSQLite(t, path), txs)
}

const perTx = 2000

func openSQLite(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), DriverSQLite, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// writeEvents journals perTx events of about 1 KiB in one transaction, the
// i-th such, and counts them inside it.
func writeEvents(t *testing.T, db *DB, i int) {
	t.Helper()
	payload := strings.Repeat("x", 700)
	err := db.Write(context.Background(), func(tx *Tx) error {
		rows := make([]models.Event, perTx)
		for j := range rows {
			rows[j] = models.Event{
				ID: fmt.Sprintf("evt_%d_%04d", i, j), Type: "contact.created", Status: models.EventApplied,
				CreatedAt: tx.Now(), ReceivedAt: tx.Now(), Payload: []byte(fmt.Sprintf(`{"n":%d,"p":%q}`, j, payload)),
			}
		}
		inserted, err := tx.InsertEvents(rows)
		if err != nil {
			return err
		}
		if len(inserted) != perTx {
			return fmt.Errorf("inserted %d of %d", len(inserted), perTx)
		}
		var n int64
		if err := tx.g.Raw("SELECT COUNT(*) FROM events WHERE length(payload) > 700").Scan(&n).Error; err != nil {
			return err
		}
		if n != int64((i+1)*perTx) {
			return fmt.Errorf("transaction %d sees %d events, want %d", i, n, (i+1)*perTx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkEvents reads back what txs calls of writeEvents wrote.
func checkEvents(t *testing.T, who string, db *DB, txs int) {
	t.Helper()
	var n, sum int64
	if err := db.read.Raw("SELECT COUNT(*), SUM(json_extract(payload, '$.n')) FROM events").Row().Scan(&n, &sum); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	wantN, wantSum := int64(txs*perTx), int64(txs*perTx*(perTx-1)/2)
	if n != wantN || sum != wantSum {
		t.Errorf("%s: %d events (sum %d), want %d (sum %d)", who, n, sum, wantN, wantSum)
	}
	var ok string
	if err := db.read.Raw("PRAGMA integrity_check").Scan(&ok).Error; err != nil || ok != "ok" {
		t.Errorf("%s: integrity_check = %q, %v", who, ok, err)
	}
}
