package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// SeedOptions size a seeded mirror. Contacts are cnt_0..; conversation i
// belongs to contact i mod Contacts; message i to conversation i mod
// Conversations.
type SeedOptions struct {
	Contacts      int
	Conversations int
	Messages      int
	Batch         int
	// Pending journals the events as waiting for the projector, which then
	// applies them (and so measures catch-up); otherwise they are marked
	// applied to a mirror that lacks them, for a rebuild to compute.
	Pending bool
}

// Seed writes the events of a mirror of the given size straight into the
// journal, without applying them; `buzzmirror rebuild` then computes the
// mirror (and so measures replay speed), or with Pending the projector of
// `serve` does. It returns the number of events.
func Seed(ctx context.Context, db *store.DB, o SeedOptions) (int, error) {
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	status := models.EventApplied
	if o.Pending {
		status = models.EventPending
	}
	total := o.Contacts + o.Conversations + o.Messages
	batch := make([]models.Event, 0, o.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.WriteJournal(ctx, func(tx *store.Tx) error {
			inserted, err := tx.InsertEvents(batch)
			if err != nil {
				return err
			}
			last := batch[len(batch)-1]
			if err := tx.MarkEventTimes(last.CreatedAt, last.ReceivedAt); err != nil {
				return err
			}
			return tx.AddCounts(store.Counts{store.EventCount(status): int64(len(inserted))})
		})
		batch = batch[:0]
		return err
	}
	for i := range total {
		id, typ, data := seedEvent(i, o)
		at := base.Add(time.Duration(i) * time.Millisecond)
		body, _ := json.Marshal(map[string]any{"id": id, "type": typ, "createdAt": at.Format(time.RFC3339Nano), "data": data})
		batch = append(batch, models.Event{
			ID: id, Type: typ, Status: status,
			CreatedAt: models.NewTime(at), ReceivedAt: models.NewTime(at), Payload: body,
		})
		if len(batch) == o.Batch {
			if err := flush(); err != nil {
				return i, err
			}
		}
	}
	return total, flush()
}

// seedEvent is the i-th event: every contact, then every conversation, then
// every message.
func seedEvent(i int, o SeedOptions) (string, string, map[string]any) {
	switch {
	case i < o.Contacts:
		return fmt.Sprintf("seed_c%d", i), "contact.created", map[string]any{
			"contactId": fmt.Sprintf("cnt_%d", i), "name": fmt.Sprintf("Customer %d", i),
			"phone": fmt.Sprintf("+2165%07d", i), "email": fmt.Sprintf("customer%d@example.com", i),
			"tags": []string{"newsletter", []string{"vip", "new", "b2b"}[i%3]}, "fields": map[string]any{"city": "Tunis"},
		}
	case i < o.Contacts+o.Conversations:
		c := i - o.Contacts
		typ := "conversation.opened"
		if c%3 == 0 {
			typ = "conversation.resolved"
		}
		return fmt.Sprintf("seed_v%d", c), typ, map[string]any{
			"conversationId": fmt.Sprintf("conv_%d", c), "contactId": fmt.Sprintf("cnt_%d", c%o.Contacts), "channel": "whatsapp",
		}
	default:
		m := i - o.Contacts - o.Conversations
		conv := m % o.Conversations
		typ := []string{"message.sent", "message.sent", "message.received", "message.failed"}[m%4]
		data := map[string]any{
			"messageId": fmt.Sprintf("msg_%d", m), "conversationId": fmt.Sprintf("conv_%d", conv),
			"contactId": fmt.Sprintf("cnt_%d", conv%o.Contacts), "channel": "whatsapp",
			"body": "Flash sale: 30% off everything until midnight!",
		}
		switch typ {
		case "message.received":
			data["from"] = fmt.Sprintf("+2165%07d", conv%o.Contacts)
			// One order number in a thousand: searching one is a rare word.
			data["body"] = fmt.Sprintf("Hello, I need help with my order #%d", 10000+m%1000)
		case "message.failed":
			data["error"] = map[string]any{"code": 131026, "message": "Message undeliverable"}
		}
		return fmt.Sprintf("seed_m%d", m), typ, data
	}
}
