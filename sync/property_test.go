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

// TestPropertyOrderIndependent checks the contract's central promise on
// the path events take: any delivery order, with any duplicates, journaled
// in groups of any size and projected in batches of any size at any
// moment, reaches the mirror that in-order delivery reaches, and
// rebuilding from the journal reaches it again. The counters agree with
// the tables throughout.
func TestPropertyOrderIndependent(t *testing.T) {
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
				events := genEvents(rt)
				inOrder := append([]propEvent(nil), events...)
				sort.Slice(inOrder, func(i, j int) bool { return inOrder[i].version < inOrder[j].version })

				delivery := rapid.Permutation(events).Draw(rt, "delivery")
				for _, i := range rapid.SliceOfN(rapid.IntRange(0, len(events)-1), 0, 10).Draw(rt, "duplicates") {
					at := rapid.IntRange(0, len(delivery)).Draw(rt, "at")
					delivery = append(delivery[:at], append([]propEvent{events[i]}, delivery[at:]...)...)
				}

				want := newTestService(wantDB.DB)
				defer want.Close()
				for _, e := range inOrder {
					MustIngest(rt, want, e.body)
				}
				wantMirror := MustSnapshot(rt, want.db)

				// The shuffled delivery is journaled in groups of random size,
				// as the writer forms them under load, duplicates included,
				// and the projector takes batches of random size in between.
				got := newTestService(gotDB.DB)
				defer got.Close()
				got.projector.opts.Batch = rapid.IntRange(1, 6).Draw(rt, "projectorBatch")
				hold(rt, got)
				for len(delivery) > 0 {
					n := min(rapid.IntRange(1, 8).Draw(rt, "journalBatch"), len(delivery))
					bodies := make([][]byte, n)
					for i, e := range delivery[:n] {
						bodies[i] = e.body
					}
					if _, err := got.write(ctx, requests(got, bodies)); err != nil {
						rt.Fatalf("journal batch: %v", err)
					}
					delivery = delivery[n:]
					for range rapid.IntRange(0, 2).Draw(rt, "steps") {
						if _, err := got.projector.Step(ctx); err != nil {
							rt.Fatalf("projector step: %v", err)
						}
					}
				}
				MustDrain(rt, got)
				if gotMirror := MustSnapshot(rt, got.db); !reflect.DeepEqual(gotMirror, wantMirror) {
					rt.Fatalf("shuffled delivery differs from in-order delivery:\n got %s\nwant %s", dump(gotMirror), dump(wantMirror))
				}
				checkCounters(rt, got.db)

				page := rapid.IntRange(1, 6).Draw(rt, "rebuildPage")
				if _, err := Rebuild(ctx, got.db, discard, RebuildOptions{Page: page, CacheRows: rapid.IntRange(1, 20).Draw(rt, "cacheRows")}); err != nil {
					rt.Fatalf("rebuild: %v", err)
				}
				if rebuilt := MustSnapshot(rt, got.db); !reflect.DeepEqual(rebuilt, wantMirror) {
					rt.Fatalf("rebuild differs from in-order delivery:\n got %s\nwant %s", dump(rebuilt), dump(wantMirror))
				}
				checkCounters(rt, got.db)
				careful := &rebuilder{db: got.db, log: discard, careful: true, changes: map[string]outcome{},
					opts: RebuildOptions{Page: page, CacheRows: 1, Batch: 1000, LeaseTTL: 5 * time.Second, Holder: "rebuild test", Progress: func(RebuildProgress) {}}}
				if _, err := careful.run(ctx); err != nil {
					rt.Fatalf("careful rebuild: %v", err)
				}
				if rebuilt := MustSnapshot(rt, got.db); !reflect.DeepEqual(rebuilt, wantMirror) {
					rt.Fatalf("careful rebuild differs from in-order delivery:\n got %s\nwant %s", dump(rebuilt), dump(wantMirror))
				}
				checkCounters(rt, got.db)
			})
		})
	}
}

// hold makes s's projector the lease holder, so that its Step works.
func hold(t fataler, s *testService) {
	t.Helper()
	epoch, ok, err := s.db.AcquireLease(context.Background(), "test", time.Minute, true)
	if err != nil || !ok {
		t.Fatalf("take the lease: %v, %v", ok, err)
	}
	s.projector.epoch = epoch
	s.projector.holding.Store(true)
}

// checkCounters compares the counters with what the tables hold.
func checkCounters(t fataler, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	kept, err := db.Stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	counted, err := db.CountStats(ctx)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	check := func(what string, got, want int64) {
		if got != want {
			t.Fatalf("counter %s = %d, the table holds %d", what, got, want)
		}
	}
	check("contacts", kept.Contacts, counted.Contacts)
	check("workflowRuns", kept.WorkflowRuns, counted.WorkflowRuns)
	for _, s := range []string{models.ConversationOpen, models.ConversationResolved} {
		check("conversations."+s, kept.Conversations[s], counted.Conversations[s])
	}
	for _, s := range []string{models.MessageReceived, models.MessageSent, models.MessageFailed} {
		check("messages."+s, kept.Messages[s], counted.Messages[s])
	}
	for _, s := range models.EventStatuses {
		check("events."+string(s), kept.Events[s], counted.Events[s])
	}
	if !sameTime(kept.LastEventAt, counted.LastEventAt) || !sameTime(kept.LastReceivedAt, counted.LastReceivedAt) {
		t.Fatalf("marks %v %v, the journal holds %v %v", kept.LastEventAt, kept.LastReceivedAt, counted.LastEventAt, counted.LastReceivedAt)
	}
}
