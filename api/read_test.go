package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/buzzmirror/buzzmirror/store"
	"github.com/buzzmirror/buzzmirror/store/storetest"
)

func at(i int) string { return fmt.Sprintf("2026-06-01T10:%02d:00Z", i) }

func eventAt(id, typ string, i int, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "type": typ, "createdAt": at(i), "data": data})
	return b
}

// fixture delivers a small workspace through the webhook.
func fixture(t *testing.T, s *testServer) {
	t.Helper()
	m := func(id, conv, contact, channel string, extra map[string]any) map[string]any {
		d := map[string]any{"messageId": id, "conversationId": conv, "contactId": contact, "channel": channel}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	for _, body := range [][]byte{
		eventAt("e01", "contact.created", 1, map[string]any{"contactId": "cnt_1", "name": "Amira Ben Salah",
			"phone": "+216 12 345 678", "email": "Amira@Example.com", "tags": []string{"vip", "newsletter"}}),
		eventAt("e02", "contact.created", 2, map[string]any{"contactId": "cnt_2", "name": "Bob 100%_sure",
			"phone": "(555) 010-0000", "tags": []string{"vip"}}),
		eventAt("e03", "conversation.opened", 3, map[string]any{"conversationId": "conv_1", "contactId": "cnt_1", "channel": "whatsapp"}),
		eventAt("e04", "message.received", 4, m("msg_1", "conv_1", "cnt_1", "whatsapp", map[string]any{"body": "Hello", "from": "+21612345678"})),
		eventAt("e05", "message.sent", 5, m("msg_2", "conv_1", "cnt_1", "whatsapp", map[string]any{"body": "Hi!", "to": "+21612345678"})),
		eventAt("e06", "message.failed", 6, m("msg_3", "conv_2", "cnt_2", "sms", map[string]any{"reason": "blocked"})),
		eventAt("e07", "conversation.resolved", 7, map[string]any{"conversationId": "conv_1"}),
		eventAt("e08", "message.received", 8, m("msg_4", "conv_3", "cnt_3", "whatsapp", map[string]any{"from": "+33 6 00"})),
		eventAt("e09", "workflow.triggered", 9, map[string]any{"workflowId": "wf_cart", "runId": "run_1", "contactId": "cnt_1"}),
		eventAt("e10", "workflow.triggered", 10, map[string]any{"workflowId": "wf_welcome", "contactId": "cnt_2"}),
		eventAt("e11", "order.created", 11, map[string]any{"orderId": "o1"}),
		eventAt("e12", "contact.updated", 12, map[string]any{"contactId": "cnt_2", "tags": "vip"}),
	} {
		if rec := s.deliver(t, body); rec.Code != http.StatusOK {
			t.Fatalf("fixture: %d %s", rec.Code, rec.Body)
		}
	}
}

// ids returns the ids of a list answer's data, or of a single resource.
func ids(t testing.TB, body []byte) []string {
	t.Helper()
	var page struct {
		Data []struct{ ID string } `json:"data"`
		ID   string                `json:"id"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if page.Data == nil {
		return []string{page.ID}
	}
	out := []string{}
	for _, d := range page.Data {
		out = append(out, d.ID)
	}
	return out
}

func TestReadEndpoints(t *testing.T) {
	cases := []struct {
		name   string
		target string
		status int
		want   string // comma-separated ids in order, or the problem's parameter for a 400
	}{
		{"Contacts", "/v1/contacts", 200, "cnt_3,cnt_2,cnt_1"},
		{"ContactsByPhone", "/v1/contacts?phone=" + url.QueryEscape("+216-12.345 678"), 200, "cnt_1"},
		{"ContactsByPhoneParens", "/v1/contacts?phone=" + url.QueryEscape("555 0100000"), 200, "cnt_2"},
		{"ContactsByEmailAnyCase", "/v1/contacts?email=amira@EXAMPLE.com", 200, "cnt_1"},
		{"ContactsByTags", "/v1/contacts?tag=vip&tag=newsletter", 200, "cnt_1"},
		{"ContactsByTag", "/v1/contacts?tag=vip", 200, "cnt_2,cnt_1"},
		{"ContactsQ", "/v1/contacts?q=BEN", 200, "cnt_1"},
		{"ContactsQPhone", "/v1/contacts?q=%2B33", 200, "cnt_3"},
		{"ContactsQWildcardsAreLiteral", "/v1/contacts?q=" + url.QueryEscape("100%_"), 200, "cnt_2"},
		{"ContactsQPercentAlone", "/v1/contacts?q=%25", 200, "cnt_2"},
		{"ContactsUpdatedSinceInclusive", "/v1/contacts?updatedSince=" + at(2), 200, "cnt_3,cnt_2"},
		{"Contact", "/v1/contacts/cnt_1", 200, "cnt_1"},
		{"ContactUnknown", "/v1/contacts/nope", 404, ""},
		{"ContactConversations", "/v1/contacts/cnt_1/conversations", 200, "conv_1"},
		{"ContactConversationsOpen", "/v1/contacts/cnt_1/conversations?status=open", 200, ""},
		{"ContactConversationsUnknown", "/v1/contacts/nope/conversations", 404, ""},
		{"Conversations", "/v1/conversations", 200, "conv_3,conv_1,conv_2"},
		{"ConversationsOpen", "/v1/conversations?status=open", 200, "conv_3,conv_2"},
		{"ConversationsAwaitingReply", "/v1/conversations?awaitingReply=true", 200, "conv_3"},
		{"ConversationsNotAwaitingReply", "/v1/conversations?awaitingReply=false", 200, "conv_1,conv_2"},
		{"ContactConversationsAwaiting", "/v1/contacts/cnt_1/conversations?awaitingReply=true", 200, ""},
		{"BadAwaitingReply", "/v1/conversations?awaitingReply=yes", 400, "awaitingReply"},
		{"ConversationsByIDs", "/v1/conversations?ids=conv_2,nope,conv_1", 200, "conv_1,conv_2"},
		{"TooManyIDs", "/v1/conversations?ids=" + strings.Repeat("x,", 100) + "x", 400, "ids"},
		{"EmptyID", "/v1/contacts?ids=cnt_1,,cnt_2", 400, "ids"},
		{"ConversationsByContact", "/v1/conversations?contactId=cnt_2", 200, "conv_2"},
		{"ConversationsByChannel", "/v1/conversations?channel=whatsapp", 200, "conv_3,conv_1"},
		{"ConversationsUpdatedSince", "/v1/conversations?updatedSince=" + url.QueryEscape("2026-06-01T11:07:00+01:00"), 200, "conv_3,conv_1"},
		{"Conversation", "/v1/conversations/conv_1", 200, "conv_1"},
		{"ConversationMessagesOldestFirst", "/v1/conversations/conv_1/messages", 200, "msg_1,msg_2"},
		{"ConversationMessagesUnknown", "/v1/conversations/nope/messages", 404, ""},
		{"Messages", "/v1/messages", 200, "msg_4,msg_3,msg_2,msg_1"},
		{"MessagesFailed", "/v1/messages?status=failed", 200, "msg_3"},
		{"MessagesInbound", "/v1/messages?direction=inbound", 200, "msg_4,msg_1"},
		{"MessagesByChannel", "/v1/messages?channel=sms", 200, "msg_3"},
		{"MessagesByConversation", "/v1/messages?conversationId=conv_1", 200, "msg_2,msg_1"},
		{"MessagesByContact", "/v1/messages?contactId=cnt_1", 200, "msg_2,msg_1"},
		{"MessagesByBody", "/v1/messages?q=hELL", 200, "msg_1"},
		{"MessagesByBodyNothing", "/v1/messages?q=bye", 200, ""},
		{"MessagesByErrorCode", "/v1/messages?errorCode=131047", 200, ""},
		{"MessagesByIDs", "/v1/messages?ids=msg_1,msg_4&direction=inbound", 200, "msg_4,msg_1"},
		{"ContactMessages", "/v1/contacts/cnt_1/messages", 200, "msg_2,msg_1"},
		{"ContactMessagesSent", "/v1/contacts/cnt_1/messages?status=sent", 200, "msg_2"},
		{"ContactMessagesUnknown", "/v1/contacts/nope/messages", 404, ""},
		{"ContactMessagesNoContactID", "/v1/contacts/cnt_1/messages?contactId=cnt_2", 400, "contactId"},
		{"WorkflowRunsByIDs", "/v1/workflow-runs?ids=run_1", 200, "run_1"},
		{"EventsByIDs", "/v1/events?ids=e01,e02", 200, "e02,e01"},
		{"BadExpand", "/v1/messages?expand=conversation", 400, "expand"},
		{"ExpandOnContacts", "/v1/contacts?expand=contact", 400, "expand"},
		{"MessagesSinceUntil", "/v1/messages?since=" + at(5) + "&until=" + at(8), 200, "msg_3,msg_2"},
		{"Message", "/v1/messages/msg_3", 200, "msg_3"},
		{"MessageUnknown", "/v1/messages/nope", 404, ""},
		{"WorkflowRuns", "/v1/workflow-runs", 200, "e10,run_1"},
		{"WorkflowRunsByWorkflow", "/v1/workflow-runs?workflowId=wf_cart", 200, "run_1"},
		{"WorkflowRunsByContact", "/v1/workflow-runs?contactId=cnt_2", 200, "e10"},
		{"EventsFailed", "/v1/events?status=failed", 200, "e12"},
		{"EventsIgnored", "/v1/events?status=ignored", 200, "e11"},
		{"EventsByType", "/v1/events?type=contact.created", 200, "e02,e01"},
		{"EventsSince", "/v1/events?since=" + at(11), 200, "e12,e11"},
		{"Event", "/v1/events/e04", 200, "e04"},
		{"EventUnknown", "/v1/events/nope", 404, ""},
		{"BadStatus", "/v1/conversations?status=closed", 400, "status"},
		{"BadMessageStatus", "/v1/messages?status=read", 400, "status"},
		{"BadDirection", "/v1/messages?direction=up", 400, "direction"},
		{"BadEventStatus", "/v1/events?status=done", 400, "status"},
		{"BadTime", "/v1/contacts?updatedSince=yesterday", 400, "updatedSince"},
		{"BadSince", "/v1/messages?since=2026-06-01", 400, "since"},
		{"LimitZero", "/v1/contacts?limit=0", 400, "limit"},
		{"LimitTooLarge", "/v1/contacts?limit=501", 400, "limit"},
		{"LimitNotNumber", "/v1/contacts?limit=ten", 400, "limit"},
		{"BadCursor", "/v1/contacts?cursor=abc", 400, "cursor"},
		{"UnknownParameter", "/v1/contacts?stauts=open", 400, "stauts"},
		{"RepeatedParameter", "/v1/messages?status=sent&status=failed", 400, "status"},
		{"BadTypes", "/v1/changes?types=contact,order", 400, "types"},
		{"StatsTakesNothing", "/v1/stats?x=1", 400, "x"},
		{"UnknownPath", "/v1/orders", 404, ""},
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		fixture(t, s)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				rec := s.do(t, http.MethodGet, tc.target, nil, nil)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				switch {
				case tc.status == 400:
					assertProblem(t, rec, 400)
					if p := decode[Problem](t, rec); p.Parameter != tc.want || !strings.Contains(p.Detail, tc.want) {
						t.Errorf("problem %+v does not name %s", p, tc.want)
					}
				case tc.status != 200:
					assertProblem(t, rec, tc.status)
				default:
					want := []string{}
					if tc.want != "" {
						want = strings.Split(tc.want, ",")
					}
					if got := ids(t, rec.Body.Bytes()); !slices.Equal(got, want) {
						t.Errorf("ids %v, want %v", got, want)
					}
					if tc.want == "" && !strings.Contains(rec.Body.String(), `"data":[]`) {
						t.Errorf("an empty list must be [], got %s", rec.Body)
					}
				}
			})
		}
	})
}

// TestResourceFields checks every field of each resource once.
func TestResourceFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newTestServer(t, db, Options{})
		fixture(t, s)
		for target, want := range map[string]string{
			"/v1/contacts/cnt_1": `{"id":"cnt_1","phone":"+216 12 345 678","name":"Amira Ben Salah","email":"Amira@Example.com",` +
				`"tags":["vip","newsletter"],"fields":{},"extra":{},"createdAt":"2026-06-01T10:01:00Z","updatedAt":"2026-06-01T10:01:00Z","syncedAt":"S"}`,
			"/v1/conversations/conv_1": `{"id":"conv_1","contactId":"cnt_1","channel":"whatsapp","status":"resolved",` +
				`"openedAt":"2026-06-01T10:03:00Z","resolvedAt":"2026-06-01T10:07:00Z","lastMessageAt":"2026-06-01T10:05:00Z",` +
				`"messageCount":2,"lastInboundAt":"2026-06-01T10:04:00Z","lastOutboundAt":"2026-06-01T10:05:00Z","awaitingReply":false,` +
				`"createdAt":"2026-06-01T10:03:00Z","updatedAt":"2026-06-01T10:07:00Z","syncedAt":"S"}`,
			"/v1/messages/msg_3": `{"id":"msg_3","conversationId":"conv_2","contactId":"cnt_2","channel":"sms","direction":"outbound",` +
				`"status":"failed","body":null,"from":null,"to":null,"error":{"code":null,"message":"blocked"},` +
				`"createdAt":"2026-06-01T10:06:00Z","updatedAt":"2026-06-01T10:06:00Z","syncedAt":"S"}`,
			"/v1/events/e12": `{"id":"e12","type":"contact.updated","status":"failed","error":"unusable data: data.tags must be an array of strings or null",` +
				`"createdAt":"2026-06-01T10:12:00Z","receivedAt":"S","payload":{"createdAt":"2026-06-01T10:12:00Z","data":{"contactId":"cnt_2","tags":"vip"},"id":"e12","type":"contact.updated"}}`,
		} {
			rec := s.do(t, http.MethodGet, target, nil, nil)
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"syncedAt", "receivedAt"} { // our own clock
				if _, ok := got[k].(string); ok {
					got[k] = "S"
				}
			}
			normalized, _ := json.Marshal(got)
			var wantMap map[string]any
			if err := json.Unmarshal([]byte(want), &wantMap); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(wantMap)
			if string(normalized) != string(wantJSON) {
				t.Errorf("%s:\n got %s\nwant %s", target, normalized, wantJSON)
			}
		}
		// The payload is the body exactly as sent, byte for byte.
		rec := s.do(t, http.MethodGet, "/v1/events/e04", nil, nil)
		var ev struct{ Payload json.RawMessage }
		_ = json.Unmarshal(rec.Body.Bytes(), &ev)
		want := eventAt("e04", "message.received", 4, map[string]any{"messageId": "msg_1", "conversationId": "conv_1",
			"contactId": "cnt_1", "channel": "whatsapp", "body": "Hello", "from": "+21612345678"})
		if string(ev.Payload) != string(want) {
			t.Errorf("payload\n got %s\nwant %s", ev.Payload, want)
		}
		// Stats.
		s.deliver(t, eventAt("e01", "contact.created", 1, nil)) // a duplicate
		rec = s.do(t, http.MethodGet, "/v1/stats", nil, nil)
		wantStats := `{"contacts":3,"conversations":{"open":2,"resolved":1},"messages":{"received":2,"sent":1,"failed":1},` +
			`"workflowRuns":2,"events":{"pending":0,"applied":10,"ignored":1,"failed":1,"erased":0,"duplicatesRejected":1},` +
			`"lastEventAt":"2026-06-01T10:12:00Z","lastReceivedAt":"`
		if !strings.HasPrefix(rec.Body.String(), wantStats) {
			t.Errorf("stats\n got %s\nwant %s...", rec.Body, wantStats)
		}
	})
}
