package store_test

import (
	"context"
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
			if err := tx.PutContacts(contacts, map[string][]string{"cnt_r00": {"vip"}}); err != nil {
				return err
			}
			if err := tx.PutConversations(conversations); err != nil {
				return err
			}
			if err := tx.PutMessages(messages); err != nil {
				return err
			}
			return tx.PutWorkflowRuns(runs)
		})
		if err != nil {
			t.Fatal(err)
		}
		var got *store.Rows
		err = db.Write(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.LoadLater(keys)()
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
