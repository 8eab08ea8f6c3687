package sync

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// A world where every row belongs to one contact, and every event that
// names a conversation, message or run names that contact too: what BuzzBip
// sends, and what lets an erasure know a person's rows whatever arrived.
var (
	eraseConversations = map[string]string{"conv_a": "cnt_a", "conv_b": "cnt_b", "conv_c": "cnt_a"}
	eraseMessages      = map[string]string{"msg_a": "conv_a", "msg_b": "conv_b", "msg_c": "conv_c", "msg_d": "conv_b"}
	eraseRuns          = map[string]string{"run_a": "cnt_a", "run_b": "cnt_b"}
	eraseTimes         = []string{"2026-06-01T10:00:00Z", "2026-06-01T10:00:01Z", "2026-06-01T10:00:02Z", "2026-06-01T10:00:03Z"}
)

func genErasableEvents(t *rapid.T) []propEvent {
	n := rapid.IntRange(1, 20).Draw(t, "events")
	events := make([]propEvent, n)
	keys := func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	for i := range events {
		id := fmt.Sprintf("evt_%c%02d", 'a'+rune(rapid.IntRange(0, 5).Draw(t, "id")), i)
		typ := rapid.SampledFrom(models.EventTypes).Draw(t, "type")
		d := obj{}
		switch typ {
		case models.TypeMessageReceived, models.TypeMessageSent, models.TypeMessageFailed:
			msg := rapid.SampledFrom(keys(eraseMessages)).Draw(t, "messageId")
			conv := eraseMessages[msg]
			d = obj{"messageId": msg, "conversationId": conv, "contactId": eraseConversations[conv]}
			genOptional(t, d, "body", "hi", "order #1")
			genOptional(t, d, "from", "+21612345678")
			genOptional(t, d, "error", obj{"code": 131026, "message": "undeliverable"})
		case models.TypeConversationOpened, models.TypeConversationResolved:
			conv := rapid.SampledFrom(keys(eraseConversations)).Draw(t, "conversationId")
			d = obj{"conversationId": conv, "contactId": eraseConversations[conv]}
			genOptional(t, d, "channel", "whatsapp", "sms")
		case models.TypeContactCreated, models.TypeContactUpdated:
			d = obj{"contactId": rapid.SampledFrom([]string{"cnt_a", "cnt_b"}).Draw(t, "contactId")}
			genOptional(t, d, "name", "Amira", "Bob")
			genOptional(t, d, "tags", []string{"vip"}, []string{})
		case models.TypeWorkflowTriggered:
			run := rapid.SampledFrom(keys(eraseRuns)).Draw(t, "runId")
			d = obj{"workflowId": "wf_a", "runId": run, "contactId": eraseRuns[run]}
		}
		body := ev(id, typ, rapid.SampledFrom(eraseTimes).Draw(t, "createdAt"), d)
		env, err := ParseEnvelope(body)
		if err != nil {
			t.Fatalf("generated a bad envelope: %v", err)
		}
		events[i] = propEvent{version: env.Version(), body: body}
	}
	return events
}

// journalStatuses reads every journaled event's status and payload size.
func journalStatuses(t fataler, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.ExportEvents(context.Background(), store.EventFilter{}, func(ctx context.Context, rows []models.Event) error {
		for _, r := range rows {
			e, err := db.Event(ctx, r.ID)
			if err != nil {
				return err
			}
			out[r.ID] = fmt.Sprintf("%s/%d", e.Status, len(e.Payload))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	return out
}

// TestPropertyEraseConverges: a history with erasures of one person or two
// at random points, delivered in any order with duplicates and late
// retries, reaches the mirror and journal of in-order delivery followed by
// the erasures; and a rebuild reaches them again.
func TestPropertyEraseConverges(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			wantDB, gotDB := storetest.OpenReusable(t, driver), storetest.OpenReusable(t, driver)
			rapid.Check(t, func(rt *rapid.T) {
				for _, db := range []*storetest.Reusable{wantDB, gotDB} {
					if err := db.Reset(); err != nil {
						rt.Fatal(err)
					}
				}
				events := genErasableEvents(rt)
				// One person erased or both, each at a time of its own.
				victims := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"cnt_a", "cnt_b"}), 1, 2, rapid.ID[string]).Draw(rt, "victims")
				opts := make([]EraseOptions, len(victims))
				for i := range victims {
					at, _ := time.Parse(time.RFC3339, rapid.SampledFrom(eraseTimes[:3]).Draw(rt, "erasedAt"))
					opts[i] = EraseOptions{At: at}
				}

				want := newTestService(wantDB.DB)
				defer want.Close()
				for _, e := range events {
					MustIngest(rt, want, e.body)
				}
				for i, victim := range victims {
					if _, err := Erase(ctx, want.db, discard, victim, opts[i]); err != nil {
						rt.Fatalf("erase: %v", err)
					}
				}
				wantMirror, wantJournal := MustSnapshot(rt, want.db), journalStatuses(rt, want.db)

				delivery := rapid.Permutation(events).Draw(rt, "delivery")
				for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(events)-1), 0, 8).Draw(rt, "duplicates") {
					k := rapid.IntRange(0, len(delivery)).Draw(rt, "at")
					delivery = append(delivery[:k], append([]propEvent{events[i]}, delivery[k:]...)...)
				}
				// Each erasure runs before the delivery at its index (or after
				// the last one).
				eraseAt := make([]int, len(victims))
				for i := range victims {
					eraseAt[i] = rapid.IntRange(0, len(delivery)).Draw(rt, "eraseAfter")
				}
				got := newTestService(gotDB.DB)
				defer got.Close()
				hold(rt, got)
				eraseDue := func(at int) {
					for i, victim := range victims {
						if eraseAt[i] != at {
							continue
						}
						if _, err := Erase(ctx, got.db, discard, victim, opts[i]); err != nil {
							rt.Fatalf("erase: %v", err)
						}
						hold(rt, got)
					}
				}
				for i, e := range delivery {
					eraseDue(i)
					if _, err := got.write(ctx, requests(got, [][]byte{e.body})); err != nil {
						rt.Fatalf("journal: %v", err)
					}
					if rapid.Bool().Draw(rt, "step") {
						if _, err := got.projector.Step(ctx); err != nil {
							rt.Fatalf("projector step: %v", err)
						}
					}
				}
				eraseDue(len(delivery))
				MustDrain(rt, got)
				if gotMirror := MustSnapshot(rt, got.db); !reflect.DeepEqual(gotMirror, wantMirror) {
					rt.Fatalf("erasure amid shuffled delivery differs:\n got %s\nwant %s", dump(gotMirror), dump(wantMirror))
				}
				if gotJournal := journalStatuses(rt, got.db); !reflect.DeepEqual(gotJournal, wantJournal) {
					rt.Fatalf("journal differs:\n got %v\nwant %v", gotJournal, wantJournal)
				}
				checkCounters(rt, got.db)
				if _, err := Rebuild(ctx, got.db, discard, RebuildOptions{}); err != nil {
					rt.Fatalf("rebuild: %v", err)
				}
				if rebuilt := MustSnapshot(rt, got.db); !reflect.DeepEqual(rebuilt, wantMirror) {
					rt.Fatalf("rebuild after an erasure differs:\n got %s\nwant %s", dump(rebuilt), dump(wantMirror))
				}
				checkCounters(rt, got.db)
			})
		})
	}
}

func TestEraseLeavesOthersAndLaterEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestService(db)
		defer s.Close()
		ctx := context.Background()
		for _, b := range [][]byte{
			ev("e1", "contact.created", "2026-06-01T10:00:00Z", obj{"contactId": "cnt_a", "name": "Amira", "phone": "+216 1"}),
			ev("e2", "contact.created", "2026-06-01T10:00:00Z", obj{"contactId": "cnt_b", "name": "Bob"}),
			ev("e3", "message.received", "2026-06-01T10:01:00Z", obj{"messageId": "m1", "conversationId": "c1", "contactId": "cnt_a", "body": "my address is ..."}),
			ev("e4", "message.received", "2026-06-01T10:01:00Z", obj{"messageId": "m2", "conversationId": "c2", "contactId": "cnt_b", "body": "hello"}),
			ev("e5", "conversation.resolved", "2026-06-01T10:02:00Z", obj{"conversationId": "c1"}),
			ev("e6", "workflow.triggered", "2026-06-01T10:03:00Z", obj{"workflowId": "wf", "contactId": "cnt_a"}),
		} {
			MustIngest(t, s, b)
		}
		at := time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)
		dry, err := Erase(ctx, db, discard, "cnt_a", EraseOptions{At: at, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		want := EraseStats{Contacts: 1, Conversations: 1, Messages: 1, WorkflowRuns: 1, Events: 4}
		if dry != want {
			t.Errorf("dry run: %+v, want %+v", dry, want)
		}
		if st := MustStats(t, db); st.Contacts != 2 {
			t.Fatalf("the dry run changed something: %+v", st)
		}
		st, err := Erase(ctx, db, discard, "cnt_a", EraseOptions{At: at})
		if err != nil || st != want {
			t.Fatalf("erase: %+v, %v; want %+v", st, err, want)
		}
		again, err := Erase(ctx, db, discard, "cnt_a", EraseOptions{At: at})
		if err != nil || again != (EraseStats{}) {
			t.Errorf("erasing again: %+v, %v; want nothing", again, err)
		}
		m := MustSnapshot(t, db)
		if len(m.Contacts) != 1 || m.Contacts[0].ID != "cnt_b" || len(m.Messages) != 1 || len(m.Conversations) != 1 || len(m.WorkflowRuns) != 0 {
			t.Errorf("mirror after the erasure: %s", dump(m))
		}
		// A retention sweep that read the event before the erasure cannot
		// write its payload back.
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.SetPayload("e3", []byte(`{"id":"e3"}`)) }); err != nil {
			t.Fatal(err)
		}
		e, err := db.Event(ctx, "e3")
		if err != nil || e.Status != models.EventErased || len(e.Payload) != 0 || e.Type != "message.received" {
			t.Errorf("erased event: %+v, %v", e, err)
		}
		// A retry is a duplicate; a late event dated before is journaled
		// erased; one dated after is applied.
		for body, outcome := range map[string]Outcome{
			string(ev("e3", "message.received", "2026-06-01T10:01:00Z", obj{"messageId": "m1", "conversationId": "c1", "contactId": "cnt_a"})):             Duplicate,
			string(ev("e7", "message.sent", "2026-06-01T10:30:00Z", obj{"messageId": "m3", "conversationId": "c1", "contactId": "cnt_a", "body": "late"})): Accepted,
			string(ev("e8", "contact.updated", "2026-06-01T12:00:00Z", obj{"contactId": "cnt_a", "name": "Back again"})):                                   Accepted,
		} {
			if got := MustIngest(t, s, []byte(body)); got != outcome {
				t.Errorf("%s: %s, want %s", body, got, outcome)
			}
		}
		if e, _ := db.Event(ctx, "e7"); e == nil || e.Status != models.EventErased || len(e.Payload) != 0 {
			t.Errorf("late event dated before the erasure: %+v", e)
		}
		m = MustSnapshot(t, db)
		if len(m.Contacts) != 2 || len(m.Messages) != 1 {
			t.Errorf("after later events: %s", dump(m))
		}
		checkCounters(t, db)
		// The feed lists the removed rows as deletes.
		changes, _, err := db.Changes(ctx, store.FeedKey{}, store.FeedKinds, 100)
		if err != nil {
			t.Fatal(err)
		}
		deleted := map[string]bool{}
		for _, c := range changes {
			if c.Deleted() {
				deleted[c.Key.Kind+"/"+c.Key.ID] = true
			}
		}
		for _, k := range []string{"conversation/c1", "message/m1", "workflowRun/e6"} {
			if !deleted[k] {
				t.Errorf("the feed does not list %s as deleted: %v", k, deleted)
			}
		}
	})
}

// TestEraseThenAddToSums: after an erasure that took a conversation
// shared by two people, a new message of the other person is added to the
// sums the erasure left (the projector no longer reads them from the
// messages), and those equal the sums a rebuild reads.
func TestEraseThenAddToSums(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestService(db)
		defer s.Close()
		ctx := context.Background()
		for _, b := range [][]byte{
			ev("e1", "conversation.opened", "2026-06-01T10:00:00Z", obj{"conversationId": "c1", "contactId": "cnt_b"}),
			ev("e2", "message.received", "2026-06-01T10:01:00Z", obj{"messageId": "m1", "conversationId": "c1", "contactId": "cnt_b", "body": "hi"}),
			ev("e3", "message.received", "2026-06-01T10:02:00Z", obj{"messageId": "m2", "conversationId": "c1", "contactId": "cnt_a", "body": "me too"}),
			ev("e4", "message.received", "2026-06-01T10:03:00Z", obj{"messageId": "m4", "conversationId": "c2", "contactId": "cnt_b", "body": "other"}),
		} {
			MustIngest(t, s, b)
		}
		if _, err := Erase(ctx, db, discard, "cnt_a", EraseOptions{At: time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{
			ev("e5", "message.sent", "2026-06-01T12:00:00Z", obj{"messageId": "m3", "conversationId": "c1", "contactId": "cnt_b", "body": "bye"}),
			ev("e6", "message.sent", "2026-06-01T12:01:00Z", obj{"messageId": "m5", "conversationId": "c2", "contactId": "cnt_b", "body": "again"}),
		} {
			MustIngest(t, s, b)
		}
		got := MustSnapshot(t, db)
		for _, c := range got.Conversations {
			n := int64(0)
			for _, m := range got.Messages {
				if m.ConversationID == c.ID {
					n++
				}
			}
			if c.MessageCount != n {
				t.Errorf("conversation %s counts %d messages, holds %d", c.ID, c.MessageCount, n)
			}
		}
		if _, err := Rebuild(ctx, db, discard, RebuildOptions{}); err != nil {
			t.Fatal(err)
		}
		if rebuilt := MustSnapshot(t, db); !reflect.DeepEqual(rebuilt, got) {
			t.Errorf("a rebuild differs:\n got %s\nwant %s", dump(rebuilt), dump(got))
		}
	})
}
