package sync

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

// lookup reads "kind/id/Field" from a mirror as text: nil pointers are
// "null", times RFC 3339, JSON as stored; "kind/id" alone is "exists" or
// "missing".
func lookup(m *store.Dump, path string) string {
	parts := strings.SplitN(path, "/", 3)
	var rows reflect.Value
	switch parts[0] {
	case "contact":
		rows = reflect.ValueOf(m.Contacts)
	case "conversation":
		rows = reflect.ValueOf(m.Conversations)
	case "message":
		rows = reflect.ValueOf(m.Messages)
	case "run":
		rows = reflect.ValueOf(m.WorkflowRuns)
	default:
		panic("lookup: unknown kind " + parts[0])
	}
	for i := 0; i < rows.Len(); i++ {
		row := rows.Index(i)
		if row.FieldByName("ID").String() != parts[1] {
			continue
		}
		if len(parts) == 2 {
			return "exists"
		}
		f := row.FieldByName(parts[2])
		if !f.IsValid() {
			panic("lookup: no field " + path)
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return "null"
			}
			f = f.Elem()
		}
		switch v := f.Interface().(type) {
		case models.Time:
			return v.Format(time.RFC3339Nano)
		case models.JSON:
			if v == nil {
				return "null"
			}
			return string(v)
		default:
			return fmt.Sprint(v)
		}
	}
	return "missing"
}

const (
	t1 = "2026-06-01T10:00:00Z"
	t2 = "2026-06-01T11:00:00Z"
	t3 = "2026-06-01T12:00:00Z"
)

func msg(id, typ, at string, data obj) []byte {
	d := obj{"messageId": "msg_1", "conversationId": "conv_1", "contactId": "cnt_1", "channel": "whatsapp"}
	for k, v := range data {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return ev(id, typ, at, d)
}

// absent marks a key the msg helper should leave out.
var absent any = nil

// TestRules walks the contract's "How events change the mirror" rule by rule.
// Each case delivers its events in the order listed.
func TestRules(t *testing.T) {
	cases := []struct {
		name   string
		events [][]byte
		want   map[string]string
	}{
		{"NewerWins", [][]byte{
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "name": "New"}),
			ev("e1", "contact.updated", t1, obj{"contactId": "cnt_1", "name": "Old"}),
		}, map[string]string{"contact/cnt_1/Name": "New", "contact/cnt_1/UpdatedAt": t2, "contact/cnt_1/CreatedAt": t1}},
		{"TieGreaterIDWins", [][]byte{
			ev("e_b", "contact.updated", t1, obj{"contactId": "cnt_1", "name": "B"}),
			ev("e_a", "contact.updated", t1, obj{"contactId": "cnt_1", "name": "A"}),
		}, map[string]string{"contact/cnt_1/Name": "B"}},
		{"AbsentKeysNeverOverwrite", [][]byte{
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "name": "Ann", "email": "a@x.tn"}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "email": "b@x.tn"}),
		}, map[string]string{"contact/cnt_1/Name": "Ann", "contact/cnt_1/Email": "b@x.tn"}},
		{"NullClears", [][]byte{
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "name": "Ann", "tags": []string{"vip"}}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "name": nil, "tags": nil}),
		}, map[string]string{"contact/cnt_1/Name": "null", "contact/cnt_1/Tags": "[]"}},
		{"TagsReplaceWholeSet", [][]byte{
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "tags": []string{"vip", "new"}}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "tags": []string{"b2b", "b2b"}}),
		}, map[string]string{"contact/cnt_1/Tags": `["b2b"]`}},
		{"FieldsMergeKeyByKey", [][]byte{
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "fields": obj{"size": "M", "city": "Sfax"}}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "fields": obj{"city": nil, "vip": true}}),
		}, map[string]string{"contact/cnt_1/Fields": `{"size":"M","vip":true}`}},
		{"FieldsNullClearsOlderKeysOnly", [][]byte{
			ev("e3", "contact.updated", t3, obj{"contactId": "cnt_1", "fields": obj{"late": 1}}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "fields": nil}),
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "fields": obj{"early": 1}}),
		}, map[string]string{"contact/cnt_1/Fields": `{"late":1}`}},
		{"UnmappedKeysGoToExtra", [][]byte{
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "locale": "fr", "shop": obj{"id": 7}}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "locale": nil, "optIn": true}),
		}, map[string]string{"contact/cnt_1/Extra": `{"optIn":true,"shop":{"id":7}}`, "contact/cnt_1/UpdatedAt": t2}},
		{"StubFromNewestInbound", [][]byte{
			msg("e2", "message.received", t2, obj{"messageId": "msg_2", "from": "+216 22"}),
			msg("e1", "message.received", t1, obj{"from": "+216 11"}),
		}, map[string]string{"contact/cnt_1/Phone": "+216 22", "contact/cnt_1/PhoneNorm": "+21622",
			"contact/cnt_1/CreatedAt": t1, "contact/cnt_1/UpdatedAt": t2}},
		{"ContactPhoneStopsMessages", [][]byte{
			msg("e1", "message.received", t1, obj{"from": "+216 11"}),
			ev("e2", "contact.updated", t2, obj{"contactId": "cnt_1", "phone": "+216 99"}),
			msg("e3", "message.received", t3, obj{"messageId": "msg_3", "from": "+216 33"}),
		}, map[string]string{"contact/cnt_1/Phone": "+216 99", "contact/cnt_1/UpdatedAt": t2}},
		{"OlderContactPhoneStillBeatsStub", [][]byte{
			msg("e3", "message.received", t3, obj{"from": "+216 33"}),
			ev("e1", "contact.created", t1, obj{"contactId": "cnt_1", "phone": "+216 11"}),
		}, map[string]string{"contact/cnt_1/Phone": "+216 11", "contact/cnt_1/UpdatedAt": t1, "contact/cnt_1/CreatedAt": t1}},
		{"OutboundToNeverSetsPhone", [][]byte{
			msg("e1", "message.sent", t1, obj{"to": "+216 55"}),
		}, map[string]string{"contact/cnt_1/Phone": "null", "contact/cnt_1/UpdatedAt": t1, "message/msg_1/To": "+216 55"}},
		{"WorkflowCreatesNothingElse", [][]byte{
			ev("e1", "workflow.triggered", t1, obj{"workflowId": "wf_1", "contactId": "cnt_9", "conversationId": "conv_9", "source": "api"}),
			ev("e2", "workflow.triggered", t2, obj{"workflowId": "wf_1", "runId": "run_7"}),
		}, map[string]string{"contact/cnt_9": "missing", "conversation/conv_9": "missing",
			"run/e1/ContactID": "cnt_9", "run/e1/Source": "api", "run/e1/TriggeredAt": t1,
			"run/run_7/WorkflowID": "wf_1", "run/run_7/TriggeredAt": t2}},
		{"WorkflowDoesNotDateContact", [][]byte{
			ev("e1", "workflow.triggered", t1, obj{"workflowId": "wf_1", "contactId": "cnt_1"}),
			ev("e2", "contact.created", t2, obj{"contactId": "cnt_1"}),
		}, map[string]string{"contact/cnt_1/CreatedAt": t2}},
		{"DirectionInboundOnceReceived", [][]byte{
			msg("e2", "message.sent", t2, nil),
			msg("e1", "message.received", t1, nil),
		}, map[string]string{"message/msg_1/Direction": "inbound", "message/msg_1/Status": "sent"}},
		{"DirectionOutbound", [][]byte{
			msg("e1", "message.sent", t1, nil),
			msg("e2", "message.failed", t2, obj{"reason": "blocked"}),
		}, map[string]string{"message/msg_1/Direction": "outbound", "message/msg_1/Status": "failed",
			"message/msg_1/Error": `{"code":null,"message":"blocked"}`, "message/msg_1/UpdatedAt": t2, "message/msg_1/CreatedAt": t1}},
		{"ErrorCodeNumberBecomesString", [][]byte{
			msg("e1", "message.failed", t1, obj{"error": obj{"code": 131026, "message": "undeliverable"}, "reason": "ignored"}),
		}, map[string]string{"message/msg_1/Error": `{"code":"131026","message":"undeliverable"}`}},
		{"ErrorNeither", [][]byte{
			msg("e1", "message.failed", t1, nil),
		}, map[string]string{"message/msg_1/Error": `{"code":null,"message":null}`}},
		{"ErrorOfNewestFailedSurvivesLaterSent", [][]byte{
			msg("e1", "message.failed", t1, obj{"error": obj{"code": "E1", "message": "a"}}),
			msg("e3", "message.failed", t3, obj{"error": obj{"code": "E3", "message": "c"}}),
			msg("e2", "message.sent", t2, nil),
		}, map[string]string{"message/msg_1/Error": `{"code":"E3","message":"c"}`, "message/msg_1/Status": "failed"}},
		{"ErrorOnlyWhileFailed", [][]byte{
			msg("e1", "message.failed", t1, obj{"error": obj{"code": "E1", "message": "a"}}),
			msg("e2", "message.sent", t2, nil),
		}, map[string]string{"message/msg_1/Error": "null", "message/msg_1/Status": "sent", "message/msg_1/ErrorCode": "null"}},
		{"ErrorCodeFiltered", [][]byte{
			msg("e1", "message.failed", t1, obj{"error": obj{"code": 131026, "message": "a"}}),
		}, map[string]string{"message/msg_1/ErrorCode": "131026"}},
		{"AwaitingReply", [][]byte{
			msg("e1", "message.sent", t1, obj{"messageId": "msg_out"}),
			msg("e2", "message.received", t2, obj{"messageId": "msg_in"}),
		}, map[string]string{"conversation/conv_1/AwaitingReply": "true", "conversation/conv_1/LastInboundAt": t2,
			"conversation/conv_1/LastOutboundAt": t1}},
		{"AnsweredIsNotAwaiting", [][]byte{
			msg("e3", "message.sent", t3, obj{"messageId": "msg_out"}),
			msg("e2", "message.received", t2, obj{"messageId": "msg_in"}),
		}, map[string]string{"conversation/conv_1/AwaitingReply": "false", "conversation/conv_1/LastOutboundAt": t3}},
		{"FailedIsNoReply", [][]byte{
			msg("e2", "message.received", t2, obj{"messageId": "msg_in"}),
			msg("e3", "message.failed", t3, obj{"messageId": "msg_out"}),
		}, map[string]string{"conversation/conv_1/AwaitingReply": "true", "conversation/conv_1/LastOutboundAt": "null"}},
		{"ResolvedIsNotAwaiting", [][]byte{
			msg("e2", "message.received", t2, obj{"messageId": "msg_in"}),
			ev("e3", "conversation.resolved", t3, obj{"conversationId": "conv_1"}),
		}, map[string]string{"conversation/conv_1/AwaitingReply": "false", "conversation/conv_1/LastInboundAt": t2}},
		{"NoErrorWithoutFailed", [][]byte{
			msg("e1", "message.sent", t1, nil),
		}, map[string]string{"message/msg_1/Error": "null"}},
		{"MessageFieldsFromNewestCarrier", [][]byte{
			msg("e1", "message.received", t1, obj{"body": "hi", "from": "+1"}),
			msg("e2", "message.sent", t2, obj{"body": absent, "channel": "sms"}),
		}, map[string]string{"message/msg_1/Body": "hi", "message/msg_1/From": "+1", "message/msg_1/Channel": "sms"}},
		{"ConversationOpenByDefault", [][]byte{
			msg("e1", "message.received", t1, nil),
		}, map[string]string{"conversation/conv_1/Status": "open", "conversation/conv_1/OpenedAt": "null",
			"conversation/conv_1/ResolvedAt": "null", "conversation/conv_1/MessageCount": "1",
			"conversation/conv_1/LastMessageAt": t1, "conversation/conv_1/ContactID": "cnt_1"}},
		{"MessageNeverReopens", [][]byte{
			ev("e1", "conversation.opened", t1, obj{"conversationId": "conv_1"}),
			ev("e2", "conversation.resolved", t2, obj{"conversationId": "conv_1"}),
			msg("e3", "message.received", t3, nil),
		}, map[string]string{"conversation/conv_1/Status": "resolved", "conversation/conv_1/OpenedAt": t1,
			"conversation/conv_1/ResolvedAt": t2, "conversation/conv_1/UpdatedAt": t3}},
		{"ReopenedHidesResolvedAt", [][]byte{
			ev("e3", "conversation.opened", t3, obj{"conversationId": "conv_1"}),
			ev("e2", "conversation.resolved", t2, obj{"conversationId": "conv_1", "channel": "whatsapp"}),
			ev("e1", "conversation.opened", t1, obj{"conversationId": "conv_1", "contactId": "cnt_1"}),
		}, map[string]string{"conversation/conv_1/Status": "open", "conversation/conv_1/OpenedAt": t3,
			"conversation/conv_1/ResolvedAt": "null", "conversation/conv_1/ContactID": "cnt_1",
			"conversation/conv_1/Channel": "whatsapp", "contact/cnt_1/CreatedAt": t1, "conversation/conv_1/CreatedAt": t1}},
		{"ConversationContactFromMessages", [][]byte{
			ev("e1", "conversation.opened", t1, obj{"conversationId": "conv_1", "contactId": "cnt_1"}),
			msg("e2", "message.received", t2, obj{"contactId": "cnt_2"}),
		}, map[string]string{"conversation/conv_1/ContactID": "cnt_2"}},
		{"CountsDistinctMessages", [][]byte{
			msg("e1", "message.received", t1, nil),
			msg("e2", "message.sent", t3, obj{"messageId": "msg_2"}),
			msg("e3", "message.failed", t2, obj{"messageId": "msg_2"}),
		}, map[string]string{"conversation/conv_1/MessageCount": "2", "conversation/conv_1/LastMessageAt": t2}},
		{"MessageMovesConversation", [][]byte{
			msg("e1", "message.received", t1, nil),
			msg("e2", "message.sent", t2, obj{"conversationId": "conv_2"}),
		}, map[string]string{"conversation/conv_1/MessageCount": "0", "conversation/conv_1/LastMessageAt": "null",
			"conversation/conv_2/MessageCount": "1", "conversation/conv_2/LastMessageAt": t1, "message/msg_1/ConversationID": "conv_2"}},
		{"ResourceDatesWithoutFields", [][]byte{
			ev("e2", "conversation.opened", t2, obj{"conversationId": "conv_1", "contactId": "cnt_1"}),
		}, map[string]string{"contact/cnt_1/CreatedAt": t2, "contact/cnt_1/UpdatedAt": t2}},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				db := storetest.Open(t, db.Driver())
				s := newTestService(db)
				for _, e := range tc.events {
					if got := MustIngest(t, s, e); got != Accepted {
						t.Fatalf("ingest %s: got %s, want accepted", e, got)
					}
				}
				m := MustSnapshot(t, db)
				for path, want := range tc.want {
					if got := lookup(m, path); got != want {
						t.Errorf("%s = %s, want %s", path, got, want)
					}
				}
			})
		}
	})
}

// TestAddSums: a conversation's sums grow by the messages added to them,
// and a message already counted only raises its inbound and outbound times.
func TestAddSums(t *testing.T) {
	at := func(s string) *models.Time {
		tm, err := models.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		mt := models.NewTime(tm)
		return &mt
	}
	const t1, t2, t3 = "2026-01-01T10:00:00.000000000Z", "2026-01-01T11:00:00.000000000Z", "2026-01-01T12:00:00.000000000Z"
	tests := []struct {
		name    string
		conv    models.Conversation
		add     []*models.Message
		want    models.Conversation
		changed bool
	}{
		{"first message", models.Conversation{},
			[]*models.Message{{CreatedAt: *at(t2), InboundAt: at(t2)}},
			models.Conversation{MessageCount: 1, LastMessageAt: at(t2), LastInboundAt: at(t2)}, true},
		{"an older message counts, the times stay", models.Conversation{MessageCount: 3, LastMessageAt: at(t3), LastOutboundAt: at(t3)},
			[]*models.Message{{CreatedAt: *at(t1), OutboundAt: at(t1)}},
			models.Conversation{MessageCount: 4, LastMessageAt: at(t3), LastOutboundAt: at(t3)}, true},
		{"two newer messages", models.Conversation{MessageCount: 1, LastMessageAt: at(t1), LastInboundAt: at(t1)},
			[]*models.Message{{CreatedAt: *at(t2), OutboundAt: at(t2)}, {CreatedAt: *at(t3), InboundAt: at(t3)}},
			models.Conversation{MessageCount: 3, LastMessageAt: at(t3), LastInboundAt: at(t3), LastOutboundAt: at(t2)}, true},
		{"a counted message raises the outbound time", models.Conversation{MessageCount: 2, LastMessageAt: at(t2), LastOutboundAt: at(t1)},
			[]*models.Message{{OutboundAt: at(t3)}},
			models.Conversation{MessageCount: 2, LastMessageAt: at(t2), LastOutboundAt: at(t3)}, true},
		{"a counted message below the maxima changes nothing", models.Conversation{MessageCount: 2, LastMessageAt: at(t2), LastInboundAt: at(t3)},
			[]*models.Message{{InboundAt: at(t1)}},
			models.Conversation{MessageCount: 2, LastMessageAt: at(t2), LastInboundAt: at(t3)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.conv
			if changed := addSums(&c, tt.add); changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			got := store.Aggregate{Count: c.MessageCount, LastMessageAt: c.LastMessageAt, LastInboundAt: c.LastInboundAt, LastOutboundAt: c.LastOutboundAt}
			want := store.Aggregate{Count: tt.want.MessageCount, LastMessageAt: tt.want.LastMessageAt, LastInboundAt: tt.want.LastInboundAt, LastOutboundAt: tt.want.LastOutboundAt}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("sums = %+v, want %+v", got, want)
			}
		})
	}
}
