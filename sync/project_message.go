package sync

import (
	"encoding/json"
	"fmt"

	"github.com/buzzmirror/buzzmirror/models"
)

var messageStatus = map[string]string{
	models.TypeMessageReceived: models.MessageReceived,
	models.TypeMessageSent:     models.MessageSent,
	models.TypeMessageFailed:   models.MessageFailed,
}

func (w *work) applyMessage(ev *Event) error {
	d := ev.Message
	e, err := load(w.messages, d.MessageID, w.tx.Message, func() *models.Message {
		return &models.Message{
			ID: d.MessageID, ConversationID: d.ConversationID,
			Direction: models.DirectionOutbound, Versions: models.Versions{},
		}
	})
	if err != nil {
		return err
	}
	m, v := e.row, ev.Version()
	before := struct {
		conversation string
		created      models.Time
	}{m.ConversationID, m.CreatedAt}
	isNew := m.CreatedAt.IsZero()

	changed := named(&m.CreatedAt, ev.CreatedAt)
	if m.Versions.Claim("status", v) {
		m.Status, changed = messageStatus[ev.Type], true
	}
	if ev.Type == models.TypeMessageReceived && m.Direction != models.DirectionInbound {
		m.Direction, changed = models.DirectionInbound, true
	}
	if m.Versions.Claim("conversationId", v) {
		m.ConversationID, changed = d.ConversationID, true
	}
	changed = setOpt(m.Versions, "contactId", v, d.ContactID, &m.ContactID) || changed
	changed = setOpt(m.Versions, "channel", v, d.Channel, &m.Channel) || changed
	changed = setOpt(m.Versions, "body", v, d.Body, &m.Body) || changed
	changed = setOpt(m.Versions, "from", v, d.From, &m.From) || changed
	changed = setOpt(m.Versions, "to", v, d.To, &m.To) || changed
	if d.Error != nil && m.Versions.Claim("error", v) {
		if m.Error, err = json.Marshal(d.Error); err != nil {
			return fmt.Errorf("sync: encode message error: %w", err)
		}
		changed = true
	}
	e.dirty = e.dirty || changed

	// The conversation the event names exists and takes the event's
	// contactId and channel, even when a newer event moved the message.
	conv, err := w.conversation(d.ConversationID, ev.CreatedAt)
	if err != nil {
		return err
	}
	cv := conv.row.Versions
	conv.dirty = setOpt(cv, "contactId", v, d.ContactID, &conv.row.ContactID) || conv.dirty
	conv.dirty = setOpt(cv, "channel", v, d.Channel, &conv.row.Channel) || conv.dirty

	if d.ContactID.Val != nil {
		c, err := w.contact(*d.ContactID.Val, ev.CreatedAt)
		if err != nil {
			return err
		}
		if ev.Type == models.TypeMessageReceived && stubPhone(c.row, v, d.From) {
			c.dirty = true
		}
	}

	// messageCount and lastMessageAt change only when the message is new,
	// moves, or gets an older createdAt.
	if isNew || m.ConversationID != before.conversation || !m.CreatedAt.Equal(before.created.Time) {
		if err := w.flushMessage(e); err != nil {
			return err
		}
		if err := w.refreshStats(m.ConversationID); err != nil {
			return err
		}
		if moved := before.conversation != m.ConversationID; moved && !isNew {
			if err := w.refreshStats(before.conversation); err != nil {
				return err
			}
		}
	}
	return nil
}

// refreshStats recounts a conversation's messages from the store.
func (w *work) refreshStats(id string) error {
	conv, err := w.loadConversation(id)
	if err != nil {
		return err
	}
	count, last, err := w.tx.MessageStats(id)
	if err != nil {
		return err
	}
	c := conv.row
	if c.MessageCount != count || !sameTime(c.LastMessageAt, last) {
		c.MessageCount, c.LastMessageAt, conv.dirty = count, last, true
	}
	return nil
}

func sameTime(a, b *models.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

// flushMessage writes a dirty message now, so that counting the
// conversation's messages sees it.
func (w *work) flushMessage(e *entry[models.Message]) error {
	if !e.dirty {
		return nil
	}
	m := e.row
	m.UpdatedAt = m.CreatedAt
	if t, ok := newestTime(m.Versions); ok {
		m.UpdatedAt = models.NewTime(t)
	}
	m.SyncedAt, m.Seq = w.tx.Now(), w.tx.Seq()
	if err := w.tx.PutMessage(m); err != nil {
		return err
	}
	e.dirty = false
	return nil
}
