package sync

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// A handful of ids and a few instants, some equal and one written with an
// offset, so that generated events collide on every rule: the same fields,
// the same createdAt, the same message in two conversations.
var (
	propTimes = []string{
		"2026-06-01T10:00:00Z", "2026-06-01T10:00:01Z", "2026-06-01T10:00:01.000000001Z",
		"2026-06-01T12:00:02+02:00", "2026-06-01T10:00:03Z",
	}
	propContacts      = []string{"cnt_a", "cnt_b", "cnt_c"}
	propConversations = []string{"conv_a", "conv_b", "conv_c"}
	propMessages      = []string{"msg_a", "msg_b", "msg_c", "msg_d"}
	propStrings       = []string{"x", "y", "+216 12-345-678"}
	propTypes         = append([]string{"audience.exported"}, models.EventTypes...)
)

type propEvent struct {
	version string
	body    []byte
}

// genOptional adds key to data: absent, null, or one of values.
func genOptional(t *rapid.T, data obj, key string, values ...any) {
	switch rapid.IntRange(0, 3).Draw(t, key+"?") {
	case 0:
	case 1:
		data[key] = nil
	default:
		data[key] = values[rapid.IntRange(0, len(values)-1).Draw(t, key)]
	}
}

func genData(t *rapid.T, typ string) any {
	if rapid.IntRange(0, 30).Draw(t, "broken") == 0 {
		return rapid.SampledFrom([]any{"text", 7, []any{}, obj{"tags": 1}}).Draw(t, "junk")
	}
	strs := make([]any, len(propStrings))
	for i, s := range propStrings {
		strs[i] = s
	}
	ids := func(list []string) []any {
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out
	}
	d := obj{}
	switch typ {
	case models.TypeMessageReceived, models.TypeMessageSent, models.TypeMessageFailed:
		d["messageId"] = rapid.SampledFrom(propMessages).Draw(t, "messageId")
		d["conversationId"] = rapid.SampledFrom(propConversations).Draw(t, "conversationId")
		genOptional(t, d, "contactId", ids(propContacts)...)
		genOptional(t, d, "channel", "whatsapp", "sms")
		genOptional(t, d, "body", strs...)
		genOptional(t, d, "from", strs...)
		genOptional(t, d, "to", strs...)
		genOptional(t, d, "error", obj{"code": 131026, "message": "undeliverable"}, obj{"code": "E1"})
		genOptional(t, d, "reason", "blocked")
	case models.TypeConversationOpened, models.TypeConversationResolved:
		d["conversationId"] = rapid.SampledFrom(propConversations).Draw(t, "conversationId")
		genOptional(t, d, "contactId", ids(propContacts)...)
		genOptional(t, d, "channel", "whatsapp", "sms")
	case models.TypeContactCreated, models.TypeContactUpdated:
		d["contactId"] = rapid.SampledFrom(propContacts).Draw(t, "contactId")
		genOptional(t, d, "phone", strs...)
		genOptional(t, d, "name", strs...)
		genOptional(t, d, "email", "a@example.com", "b@example.com")
		genOptional(t, d, "tags", []string{"vip"}, []string{"vip", "new"}, []string{})
		genOptional(t, d, "fields", obj{"size": "M"}, obj{"size": nil, "city": "Tunis"}, obj{})
		genOptional(t, d, "locale", "fr", obj{"deep": []any{1, 2}})
		genOptional(t, d, "source", "shopify")
	case models.TypeWorkflowTriggered:
		d["workflowId"] = rapid.SampledFrom([]string{"wf_a", "wf_b"}).Draw(t, "workflowId")
		genOptional(t, d, "runId", "run_a", "run_b")
		genOptional(t, d, "contactId", ids(propContacts)...)
		genOptional(t, d, "conversationId", ids(propConversations)...)
		genOptional(t, d, "source", "api", "automation")
	default:
		genOptional(t, d, "anything", "at all")
	}
	return d
}

func genEvents(t *rapid.T) []propEvent {
	n := rapid.IntRange(1, 25).Draw(t, "events")
	events := make([]propEvent, n)
	for i := range events {
		// Unique by i; the random letter makes byte order differ from
		// generation order.
		id := fmt.Sprintf("evt_%c%02d", 'a'+rune(rapid.IntRange(0, 5).Draw(t, "id")), i)
		typ := rapid.SampledFrom(propTypes).Draw(t, "type")
		at := rapid.SampledFrom(propTimes).Draw(t, "createdAt")
		body := ev(id, typ, at, genData(t, typ))
		env, err := ParseEnvelope(body)
		if err != nil {
			t.Fatalf("generated a bad envelope: %v", err)
		}
		events[i] = propEvent{version: env.Version(), body: body}
	}
	return events
}

// TestPropertyOrderIndependent checks the contract's central promise: any
// delivery order, with any duplicates, reaches the mirror that in-order
// delivery reaches, and rebuilding from the journal reaches it again.
func TestPropertyOrderIndependent(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rapid.Check(t, func(rt *rapid.T) {
				events := genEvents(rt)
				inOrder := append([]propEvent(nil), events...)
				sort.Slice(inOrder, func(i, j int) bool { return inOrder[i].version < inOrder[j].version })

				delivery := rapid.Permutation(events).Draw(rt, "delivery")
				for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(events)-1), 0, 10).Draw(rt, "duplicates") {
					at := rapid.IntRange(0, len(delivery)).Draw(rt, "at")
					delivery = append(delivery[:at], append([]propEvent{events[i]}, delivery[at:]...)...)
				}

				want := newTestSyncer(storetest.Open(t, driver))
				defer want.db.Close()
				for _, e := range inOrder {
					MustIngest(rt, want, e.body)
				}
				// The shuffled delivery is committed in groups of random size,
				// as the writer forms them under load, duplicates included.
				got := newTestSyncer(storetest.Open(t, driver))
				defer got.db.Close()
				got.opts.RebuildBatch = rapid.IntRange(1, 6).Draw(rt, "rebuildBatch")
				for len(delivery) > 0 {
					n := min(rapid.IntRange(1, 8).Draw(rt, "batch"), len(delivery))
					reqs := make([]*request, n)
					for i, e := range delivery[:n] {
						env, _ := ParseEnvelope(e.body)
						ev, status, reason := classify(env)
						reqs[i] = &request{env: env, ev: ev, status: status, reason: reason}
					}
					if _, err := got.write(ctx, reqs, false); err != nil {
						rt.Fatalf("write batch: %v", err)
					}
					delivery = delivery[n:]
				}
				wantMirror := MustSnapshot(rt, want.db)
				if gotMirror := MustSnapshot(rt, got.db); !reflect.DeepEqual(gotMirror, wantMirror) {
					rt.Fatalf("shuffled delivery differs from in-order delivery:\n got %s\nwant %s", dump(gotMirror), dump(wantMirror))
				}
				if _, err := got.Rebuild(ctx); err != nil {
					rt.Fatalf("rebuild: %v", err)
				}
				if rebuilt := MustSnapshot(rt, got.db); !reflect.DeepEqual(rebuilt, wantMirror) {
					rt.Fatalf("rebuild differs from in-order delivery:\n got %s\nwant %s", dump(rebuilt), dump(wantMirror))
				}
				if _, err := got.rebuild(ctx, true); err != nil {
					rt.Fatalf("careful rebuild: %v", err)
				}
				if rebuilt := MustSnapshot(rt, got.db); !reflect.DeepEqual(rebuilt, wantMirror) {
					rt.Fatalf("careful rebuild differs from in-order delivery:\n got %s\nwant %s", dump(rebuilt), dump(wantMirror))
				}
			})
		})
	}
}
