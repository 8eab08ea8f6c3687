// Package bench is buzzmirror's load tool: a realistic, signed BuzzBip event
// stream, drivers for the webhook and the read API, and a seeder for large
// mirrors. `buzzmirror bench` wires it to flags.
package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Mix is the share of each event type in a generated stream, as a marketing
// broadcast looks: mostly outbound messages and their failures.
var Mix = []struct {
	Type   string
	Weight int
}{
	{"message.sent", 40}, {"message.failed", 12}, {"message.received", 15},
	{"conversation.opened", 8}, {"conversation.resolved", 5},
	{"contact.created", 5}, {"contact.updated", 8}, {"workflow.triggered", 7},
}

// Stream generates events. Each stream owns its event and message ids (by
// prefix), so several streams run concurrently without coordination, while
// contacts and conversations are shared by all.
type Stream struct {
	rng           *rand.Rand
	prefix        string
	contacts      int
	conversations int
	duplicates    float64 // share of deliveries that repeat an earlier event
	disorder      float64 // share of events whose createdAt lies in the past
	start         time.Time
	n             int
	recentMsgs    []recentMessage
	sent          [][]byte
	totalWeight   int
}

// recentMessage is a message a later event may update, with the
// conversation it belongs to.
type recentMessage struct {
	id   string
	conv int
}

// StreamOptions shape a Stream.
type StreamOptions struct {
	Seed          uint64
	Contacts      int
	Conversations int
	Duplicates    float64
	Disorder      float64
}

// NewStream returns a stream whose ids start with prefix.
func NewStream(prefix string, o StreamOptions) *Stream {
	s := &Stream{
		rng: rand.New(rand.NewPCG(o.Seed, 0x62757a7a)), prefix: prefix,
		contacts: max(o.Contacts, 1), conversations: max(o.Conversations, 1),
		duplicates: o.Duplicates, disorder: o.Disorder, start: time.Now().UTC(),
	}
	for _, m := range Mix {
		s.totalWeight += m.Weight
	}
	return s
}

// Next returns the next body to deliver.
func (s *Stream) Next() []byte {
	if len(s.sent) > 0 && s.rng.Float64() < s.duplicates {
		return s.sent[s.rng.IntN(len(s.sent))]
	}
	body := s.event()
	if len(s.sent) < 1024 {
		s.sent = append(s.sent, body)
	} else {
		s.sent[s.rng.IntN(len(s.sent))] = body
	}
	return body
}

func (s *Stream) pickType() string {
	w := s.rng.IntN(s.totalWeight)
	for _, m := range Mix {
		if w < m.Weight {
			return m.Type
		}
		w -= m.Weight
	}
	return Mix[0].Type
}

func (s *Stream) event() []byte {
	s.n++
	at := s.start.Add(time.Duration(s.n) * time.Millisecond)
	if s.rng.Float64() < s.disorder {
		at = at.Add(-time.Duration(s.rng.IntN(60_000)) * time.Millisecond)
	}
	typ := s.pickType()
	conv := s.rng.IntN(s.conversations)
	contact := fmt.Sprintf("cnt_%d", conv%s.contacts)
	data := map[string]any{}
	switch typ {
	case "message.sent", "message.failed", "message.received":
		var msgID string
		msgID, conv = s.message(typ, conv)
		contact = fmt.Sprintf("cnt_%d", conv%s.contacts)
		data["messageId"] = msgID
		data["conversationId"] = fmt.Sprintf("conv_%d", conv)
		data["contactId"] = contact
		data["channel"] = "whatsapp"
		phone := fmt.Sprintf("+2165%07d", conv%s.contacts)
		switch typ {
		case "message.received":
			data["body"] = "Hello, I need help with my order #" + fmt.Sprint(10000+s.n%9000)
			data["from"] = phone
		case "message.sent":
			data["body"] = "Flash sale: 30% off everything until midnight!"
			data["to"] = phone
		default:
			data["to"] = phone
			data["error"] = map[string]any{"code": 131026, "message": "Message undeliverable"}
		}
	case "conversation.opened", "conversation.resolved":
		data["conversationId"] = fmt.Sprintf("conv_%d", conv)
		data["contactId"] = contact
		data["channel"] = "whatsapp"
	case "contact.created", "contact.updated":
		data["contactId"] = contact
		data["name"] = fmt.Sprintf("Customer %d", conv%s.contacts)
		data["tags"] = []string{"newsletter", []string{"vip", "new", "b2b"}[s.n%3]}
		data["fields"] = map[string]any{"lastOrder": fmt.Sprintf("#%d", 10000+s.n%9000), "city": "Tunis"}
		if typ == "contact.created" {
			data["phone"] = fmt.Sprintf("+2165%07d", conv%s.contacts)
			data["email"] = fmt.Sprintf("customer%d@example.com", conv%s.contacts)
		}
	case "workflow.triggered":
		data["workflowId"] = "wf_abandoned_cart"
		data["runId"] = fmt.Sprintf("run_%s_%d", s.prefix, s.n)
		data["contactId"] = contact
		data["conversationId"] = fmt.Sprintf("conv_%d", conv)
		data["source"] = "automation"
	}
	body, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("evt_%s_%d", s.prefix, s.n), "type": typ,
		"createdAt": at.Format(time.RFC3339Nano), "data": data,
	})
	return body
}

// message reuses a recent message, in its own conversation, for a status
// update (sent, then failed) a third of the time, else starts a new one in
// conversation conv.
func (s *Stream) message(typ string, conv int) (string, int) {
	if typ != "message.received" && len(s.recentMsgs) > 0 && s.rng.IntN(3) == 0 {
		m := s.recentMsgs[s.rng.IntN(len(s.recentMsgs))]
		return m.id, m.conv
	}
	m := recentMessage{id: fmt.Sprintf("msg_%s_%d", s.prefix, s.n), conv: conv}
	if len(s.recentMsgs) < 256 {
		s.recentMsgs = append(s.recentMsgs, m)
	} else {
		s.recentMsgs[s.rng.IntN(len(s.recentMsgs))] = m
	}
	return m.id, m.conv
}
