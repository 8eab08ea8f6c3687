package sync

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

func TestStripBody(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m","body":"secret","to":"+1"}}`: `{"createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m","to":"+1"},"id":"e","type":"message.sent"}`,
		`{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m"}}`:                           `{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m"}}`,
		`{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m","note":"a \"body\""}}`:       `{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":{"messageId":"m","note":"a \"body\""}}`,
		`{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":"body"}`:                                      `{"id":"e","type":"message.sent","createdAt":"2026-06-01T10:00:00Z","data":"body"}`,
	} {
		got, _, err := stripBody([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("stripBody(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// TestRetention: bodies older than the retention leave the journal and the
// mirror, at arrival or by the sweep; a newer body stays; a rebuild agrees.
func TestRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		s := newTestService(db)
		db.Now = func() time.Time { return now }
		s.Journal.opts.RetainBodies = 90 * 24 * time.Hour
		msg := func(id, typ, at, message string, body any) []byte {
			d := obj{"messageId": message, "conversationId": "c1", "contactId": "cnt_a"}
			if body != nil {
				d["body"] = body
			}
			return ev(id, typ, at, d)
		}
		for _, b := range [][]byte{
			msg("e1", "message.received", "2026-05-01T10:00:00Z", "m1", "old on arrival"),
			msg("e2", "message.received", "2026-06-15T10:00:00Z", "m2", "old by the sweep"),
			msg("e3", "message.sent", "2026-06-15T10:00:00Z", "m3", "old body"),
			msg("e4", "message.sent", "2026-08-20T10:00:00Z", "m3", "new body"),
			msg("e5", "message.failed", "2026-08-20T10:00:00Z", "m2", nil),
		} {
			MustIngest(t, s, b)
		}
		if e, _ := db.Event(ctx, "e1"); e == nil || strings.Contains(string(e.Payload), "old on arrival") {
			t.Fatalf("an event already old kept its body: %s", e.Payload)
		}
		// Time passes: e2 and e3 are now older than 90 days.
		now = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		st, err := NewSweeper(db, discard, 90*24*time.Hour).Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != 2 || st.Messages != 1 {
			t.Errorf("sweep: %+v, want 2 events and 1 message", st)
		}
		bodies := map[string]*string{}
		for _, m := range MustSnapshot(t, db).Messages {
			bodies[m.ID] = m.Body
		}
		if bodies["m1"] != nil || bodies["m2"] != nil || bodies["m3"] == nil || *bodies["m3"] != "new body" {
			t.Errorf("bodies after the sweep: m1 %v, m2 %v, m3 %v", bodies["m1"], bodies["m2"], bodies["m3"])
		}
		for _, id := range []string{"e2", "e3"} {
			if e, _ := db.Event(ctx, id); e == nil || strings.Contains(string(e.Payload), `"body"`) || e.Status != models.EventApplied {
				t.Errorf("%s after the sweep: %+v", id, e)
			}
		}
		if again, err := NewSweeper(db, discard, 90*24*time.Hour).Sweep(ctx); err != nil || again.Events != 0 {
			t.Errorf("a second sweep: %+v, %v", again, err)
		}
		checkCounters(t, db)
		live := MustSnapshot(t, db)
		if _, err := Rebuild(ctx, db, discard, RebuildOptions{}); err != nil {
			t.Fatal(err)
		}
		rebuilt := MustSnapshot(t, db)
		for i := range live.Messages { // the body register keeps its version, the rebuild has none
			delete(live.Messages[i].Versions, "body")
			delete(rebuilt.Messages[i].Versions, "body")
			live.Messages[i].SyncedAt, rebuilt.Messages[i].SyncedAt, live.Messages[i].Seq, rebuilt.Messages[i].Seq = models.Time{}, models.Time{}, 0, 0
		}
		if !reflect.DeepEqual(live.Messages, rebuilt.Messages) {
			t.Errorf("a rebuild disagrees:\n live %+v\n rebuilt %+v", live.Messages, rebuilt.Messages)
		}
	})
}
