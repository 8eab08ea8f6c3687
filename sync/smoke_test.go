package sync

import (
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

func TestSmoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestService(db)
		raw := ev("evt_1", "message.received", "2026-06-01T14:32:00Z", obj{
			"messageId": "msg_1", "conversationId": "conv_1", "contactId": "cnt_1",
			"channel": "whatsapp", "body": "Hello", "from": "+216 12-345-678",
		})
		if got := MustIngest(t, s, raw); got != Accepted {
			t.Fatalf("got %s", got)
		}
		if got := MustIngest(t, s, raw); got != Duplicate {
			t.Fatalf("got %s", got)
		}
		m := MustSnapshot(t, db)
		t.Logf("%+v", m)
		if len(m.Contacts) != 1 || len(m.Conversations) != 1 || len(m.Messages) != 1 {
			t.Fatalf("mirror: %+v", m)
		}
		if m.Conversations[0].MessageCount != 1 || *m.Contacts[0].PhoneNorm != "+21612345678" {
			t.Fatalf("mirror: %+v", m)
		}
	})
}
