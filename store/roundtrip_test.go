package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// TestMirrorRowsRoundTrip writes rows with every field set to a value of
// its own, and rows with every optional field empty, in batches of several
// sizes, and reads each back whole: the writer's hand-written column lists
// must put every value in its column.
func TestMirrorRowsRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		at := func(s int) models.Time { return models.NewTime(time.Date(2026, 6, 1, 10, 0, s, 7, time.UTC)) }
		vs := models.Versions{"name": "2026-06-01T10:00:00.000000000Z e<1>", "tags": "2026-06-01T10:00:00.000000000Z e2"}
		var (
			contacts      []*models.Contact
			conversations []*models.Conversation
			messages      []*models.Message
			runs          []*models.WorkflowRun
			keys          store.Keys
		)
		for i := range 37 { // 32 + 4 + 1 rows: three statement sizes
			id := fmt.Sprintf("r%02d", i)
			keys.Contacts = append(keys.Contacts, "cnt_"+id)
			keys.Conversations = append(keys.Conversations, "conv_"+id)
			keys.Messages = append(keys.Messages, "msg_"+id)
			keys.WorkflowRuns = append(keys.WorkflowRuns, "run_"+id)
			if i%2 == 0 {
				contacts = append(contacts, &models.Contact{ID: "cnt_" + id, Phone: ptr("+216 1"), PhoneNorm: ptr("+2161"), Name: ptr("Amira é"),
					Email: ptr("A@x.tn"), EmailNorm: ptr("a@x.tn"), Search: "amira\n+216 1", Tags: models.JSON(`["vip"]`),
					Fields: models.JSON(`{"k":1}`), Extra: models.JSON(`{"e":null}`), Versions: vs,
					CreatedAt: at(1), UpdatedAt: at(2), SyncedAt: at(3), Seq: int64(i)})
				conversations = append(conversations, &models.Conversation{ID: "conv_" + id, ContactID: ptr("cnt_" + id), Channel: ptr("whatsapp"),
					Status: models.ConversationResolved, OpenedAt: ptr(at(4)), ResolvedAt: ptr(at(5)), LastMessageAt: ptr(at(6)),
					MessageCount: 3, Versions: vs, CreatedAt: at(1), UpdatedAt: at(2), SyncedAt: at(3), Seq: int64(i)})
				messages = append(messages, &models.Message{ID: "msg_" + id, ConversationID: "conv_" + id, ContactID: ptr("cnt_" + id),
					Channel: ptr("whatsapp"), Direction: models.DirectionOutbound, Status: models.MessageFailed, Body: ptr("hi"),
					From: ptr("+1"), To: ptr("+2"), Error: models.JSON(`{"code":"1","message":"m"}`), Versions: vs,
					CreatedAt: at(1), UpdatedAt: at(2), SyncedAt: at(3), Seq: int64(i)})
				runs = append(runs, &models.WorkflowRun{ID: "run_" + id, WorkflowID: "wf", ContactID: ptr("cnt_" + id),
					ConversationID: ptr("conv_" + id), Source: ptr("api"), Versions: vs, TriggeredAt: at(1), SyncedAt: at(3), Seq: int64(i)})
				continue
			}
			empty := models.JSON(`{}`)
			contacts = append(contacts, &models.Contact{ID: "cnt_" + id, Tags: models.JSON(`[]`), Fields: empty, Extra: empty,
				Versions: models.Versions{}, CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)})
			conversations = append(conversations, &models.Conversation{ID: "conv_" + id, Status: models.ConversationOpen,
				Versions: models.Versions{}, CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)})
			messages = append(messages, &models.Message{ID: "msg_" + id, ConversationID: "conv_" + id, Direction: models.DirectionInbound,
				Status: models.MessageReceived, Versions: models.Versions{}, CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)})
			runs = append(runs, &models.WorkflowRun{ID: "run_" + id, WorkflowID: "wf", Versions: models.Versions{}, TriggeredAt: at(1), SyncedAt: at(1)})
		}
		ctx := context.Background()
		err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.Live().PutContacts(contacts, map[string][]string{"cnt_r00": {"vip"}}); err != nil {
				return err
			}
			if err := tx.Live().PutConversations(conversations); err != nil {
				return err
			}
			if err := tx.Live().PutMessages(messages); err != nil {
				return err
			}
			return tx.Live().PutWorkflowRuns(runs)
		})
		if err != nil {
			t.Fatal(err)
		}
		var got *store.Rows
		err = db.Write(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.Live().LoadLater(keys)()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		same(t, "contact", contacts, got.Contacts, func(c *models.Contact) string { return c.ID })
		same(t, "conversation", conversations, got.Conversations, func(c *models.Conversation) string { return c.ID })
		same(t, "message", messages, got.Messages, func(m *models.Message) string { return m.ID })
		same(t, "workflow run", runs, got.WorkflowRuns, func(r *models.WorkflowRun) string { return r.ID })
	})
}

func same[T any](t *testing.T, what string, want []*T, got map[string]*T, id func(*T) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d %ss read back, want %d", len(got), what, len(want))
	}
	for _, w := range want {
		if g := got[id(w)]; !reflect.DeepEqual(g, w) {
			t.Errorf("%s %s:\n got %+v\nwant %+v", what, id(w), g, w)
		}
	}
}

// TestMirrorRowsUpdateRoundTrip loads stored rows and writes them back
// changed, twice in one transaction and once more after a savepoint that
// failed: an indexed column is written only when it changed since the
// database last held the row, so a value changed and then changed back
// within one transaction must still arrive, and so must one changed again
// after the rollback undid a write the transaction had seen.
func TestMirrorRowsUpdateRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := func(s int) models.Time { return models.NewTime(time.Date(2026, 6, 1, 10, 0, s, 0, time.UTC)) }
		var keys store.Keys
		var convs []*models.Conversation
		var msgs []*models.Message
		for i := range 12 {
			id := fmt.Sprint(i)
			keys.Conversations = append(keys.Conversations, "conv_"+id)
			keys.Messages = append(keys.Messages, "msg_"+id)
			convs = append(convs, &models.Conversation{ID: "conv_" + id, ContactID: ptr("cnt_a"), Status: models.ConversationOpen,
				Versions: models.Versions{}, CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)})
			msgs = append(msgs, &models.Message{ID: "msg_" + id, ConversationID: "conv_a", ContactID: ptr("cnt_a"),
				Direction: models.DirectionOutbound, Status: models.MessageSent, Versions: models.Versions{},
				CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)})
		}
		write := func(fn func(tx *store.Tx) error) {
			t.Helper()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		load := func(tx *store.Tx) *store.Rows {
			t.Helper()
			rows, err := tx.Live().LoadLater(keys)()
			if err != nil {
				t.Fatal(err)
			}
			return rows
		}
		write(func(tx *store.Tx) error {
			if err := tx.Live().PutConversations(convs); err != nil {
				return err
			}
			return tx.Live().PutMessages(msgs)
		})

		want := map[string]models.Conversation{}
		wantMsg := map[string]models.Message{}
		write(func(tx *store.Tx) error {
			rows := load(tx)
			var cs []*models.Conversation
			var ms []*models.Message
			for i, id := range keys.Conversations {
				c, m := rows.Conversations[id], rows.Messages[keys.Messages[i]]
				switch i % 4 {
				case 0: // an indexed column changes
					c.ContactID, m.ConversationID, m.CreatedAt = ptr("cnt_b"), "conv_b", at(0)
				case 1: // it changes and is cleared
					c.ContactID, m.ContactID = nil, nil
				case 2: // only unindexed columns change
					c.MessageCount, m.Status = 7, models.MessageFailed
				case 3: // nothing changes but the feed position
				}
				c.Seq, m.Seq = 2, 2
				cs, ms = append(cs, c), append(ms, m)
			}
			if err := tx.Live().PutConversations(cs); err != nil {
				return err
			}
			if err := tx.Live().PutMessages(ms); err != nil {
				return err
			}
			// Back again, in the same transaction, for half of them.
			for i := range cs {
				if i%2 == 0 {
					cs[i].ContactID, ms[i].ConversationID, ms[i].ContactID, ms[i].CreatedAt = ptr("cnt_a"), "conv_a", ptr("cnt_a"), at(1)
				}
			}
			if err := tx.Live().PutConversations(cs); err != nil {
				return err
			}
			if err := tx.Live().PutMessages(ms); err != nil {
				return err
			}
			// A savepoint writes and fails: its writes are undone.
			failed := errors.New("refused")
			err := tx.Savepoint("t", func() error {
				if err := tx.Live().PutConversations([]*models.Conversation{{ID: cs[0].ID, ContactID: ptr("cnt_z"), Status: cs[0].Status,
					Versions: models.Versions{}, CreatedAt: at(1), UpdatedAt: at(1), SyncedAt: at(1)}}); err != nil {
					return err
				}
				return failed
			})
			if !errors.Is(err, failed) {
				return fmt.Errorf("savepoint: %w", err)
			}
			// cs[0] takes the value the undone write had set, cs[1] is
			// written again unchanged.
			cs[0].ContactID = ptr("cnt_z")
			if err := tx.Live().PutConversations(cs[:2]); err != nil {
				return err
			}
			for i := range cs {
				want[cs[i].ID], wantMsg[ms[i].ID] = *cs[i], *ms[i]
			}
			return nil
		})
		write(func(tx *store.Tx) error {
			rows := load(tx)
			for id, w := range want {
				if g := rows.Conversations[id]; g == nil || !reflect.DeepEqual(*g, w) {
					t.Errorf("conversation %s:\n got %+v\nwant %+v", id, g, w)
				}
			}
			for id, w := range wantMsg {
				if g := rows.Messages[id]; g == nil || !reflect.DeepEqual(*g, w) {
					t.Errorf("message %s:\n got %+v\nwant %+v", id, g, w)
				}
			}
			return nil
		})
	})
}
