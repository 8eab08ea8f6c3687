package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/models"
)

// TestBackupWhileDelivering copies a SQLite database with `backup` while a
// sender delivers: every delivery is answered 200, and a service started
// on the copy serves every event journaled before the backup began, the
// mirror a clean delivery of the journal would give.
func TestBackupWhileDelivering(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "live.db")
	s := start(t, "BUZZMIRROR_DATABASE_DSN="+dsn, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
	bodies := stream(4000)
	copyPath := filepath.Join(dir, "copy.db")
	out, acked := s.whileDelivering(t, bodies[:2000], bodies[2000:], func() string { return s.run(t, "backup", copyPath) })
	if !strings.Contains(out, "backed up to "+copyPath) {
		t.Fatalf("backup: %s", out)
	}
	if len(acked) != countIDs(bodies[2000:]) {
		t.Errorf("%d of %d deliveries made during the backup were answered 200", len(acked), countIDs(bodies[2000:]))
	}
	if st, err := os.Stat(copyPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the copy: %v, %v; want mode 0600", st, err)
	}
	again := exec.Command(binary, "backup", copyPath)
	again.Env = s.env
	if out, err := again.CombinedOutput(); err == nil || !strings.Contains(string(out), "must be a new file") {
		t.Errorf("backup over an existing file: %v %s", err, out)
	}

	// Restore: serve the copy. It holds the first 2000 bodies' events
	// (all applied before the backup) and a consistent cut of the rest.
	restored := start(t, "BUZZMIRROR_DATABASE_DSN="+copyPath, "BUZZMIRROR_WEBHOOK_SECRET="+faultSecret)
	restored.settle(t)
	db := openStore(t, "sqlite", copyPath)
	for _, b := range bodies[:2000] {
		if e, err := db.Event(context.Background(), eventID(b)); err != nil || e.Status != models.EventApplied {
			t.Fatalf("event %s journaled before the backup: %v %v", eventID(b), e, err)
		}
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := st.JournalRows(); got < int64(countIDs(bodies[:2000])) || got > int64(countIDs(bodies)) {
		t.Errorf("the copy journals %d events", got)
	}
	// The copy's mirror is its journal's: rebuilding it changes nothing.
	before := mirror(t, db)
	restored.run(t, "rebuild")
	if after := mirror(t, db); !reflect.DeepEqual(before, after) {
		t.Error("the restored mirror differs from its journal's")
	}
}
