package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/buzzmirror/buzzmirror/models"
)

// TestPageCacheTruncations grows the database in transactions that commit
// and in one that rolls back, whose new pages the cache must then drop
// (pcache.go passes that truncation on), and checks that the commits'
// truncations mostly stop at the wrapper and that every row survives,
// through the writer, a reader and a fresh connection.
func TestPageCacheTruncations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pcache.db")
	db := openSQLite(t, path)
	asked0, passed0 := pageCacheStats()
	writeEvents(t, db, 0)
	rolledBack := errors.New("roll back")
	err := db.Write(context.Background(), func(tx *Tx) error {
		rows := make([]models.Event, perTx)
		for j := range rows {
			rows[j] = models.Event{ID: fmt.Sprintf("gone_%04d", j),
				Type: "contact.created", Status: models.EventApplied, CreatedAt: tx.Now(), ReceivedAt: tx.Now(), Payload: make([]byte, 700)}
		}
		if _, err := tx.InsertEvents(rows); err != nil {
			return err
		}
		return Abort(rolledBack)
	})
	if !errors.Is(err, rolledBack) {
		t.Fatalf("the failing transaction returned %v", err)
	}
	for i := 1; i < 4; i++ {
		writeEvents(t, db, i)
	}
	asked, passed := pageCacheStats()
	asked, passed = asked-asked0, passed-passed0
	t.Logf("page cache truncations: %d asked, %d reached the default cache", asked, passed)
	if asked == 0 || passed >= asked {
		t.Errorf("page cache truncations: %d asked, %d reached the default cache; want some stopped", asked, passed)
	}
	checkEvents(t, "writer", &DB{read: db.write}, 4)
	checkEvents(t, "reader", db, 4)
	db.Close()
	checkEvents(t, "reopened", openSQLite(t, path), 4)
}
