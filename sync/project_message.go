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

	return w.countMessage(m, before.conversation, before.created, isNew)
}

// countMessage keeps messageCount and lastMessageAt of the conversations a
// message left and joined in step with the message. Counts move by one;
// lastMessageAt only grows, unless the message that held it left or got an
// older createdAt, when it is found again.
func (w *work) countMessage(m *models.Message, prevConv string, prevCreated models.Time, isNew bool) error {
	moved := !isNew && prevConv != m.ConversationID
	older := !isNew && !m.CreatedAt.Equal(prevCreated.Time)
	if !isNew && !moved && !older {
		return nil
	}
	conv, err := w.loadConversation(m.ConversationID)
	if err != nil {
		return err
	}
	if isNew || moved {
		conv.row.MessageCount++
		conv.dirty = true
	}
	var recount []string
	if moved {
		prev, err := w.loadConversation(prevConv)
		if err != nil {
			return err
		}
		prev.row.MessageCount--
		prev.dirty = true
		if sameTime(prev.row.LastMessageAt, &prevCreated) {
			recount = append(recount, prevConv)
		}
	}
	switch {
	case older && !moved && sameTime(conv.row.LastMessageAt, &prevCreated):
		recount = append(recount, m.ConversationID)
	case conv.row.LastMessageAt == nil || m.CreatedAt.After(conv.row.LastMessageAt.Time):
		last := m.CreatedAt
		conv.row.LastMessageAt, conv.dirty = &last, true
	}
	for _, id := range recount {
		if err := w.recount(id); err != nil {
			return err
		}
	}
	return nil
}

// recount finds a conversation's lastMessageAt again: the newest createdAt
// among its messages, taking the ones this unit of work holds from memory
// and the rest from the store.
func (w *work) recount(id string) error {
	conv, err := w.loadConversation(id)
	if err != nil {
		return err
	}
	var cached []string
	var last *models.Time
	for msgID, e := range w.messages {
		if e.row == nil {
			continue
		}
		cached = append(cached, msgID)
		if e.row.ConversationID == id && (last == nil || e.row.CreatedAt.After(last.Time)) {
			t := e.row.CreatedAt
			last = &t
		}
	}
	stored, err := w.tx.LastMessageAt(id, cached)
	if err != nil {
		return err
	}
	if stored != nil && (last == nil || stored.After(last.Time)) {
		last = stored
	}
	if !sameTime(conv.row.LastMessageAt, last) {
		conv.row.LastMessageAt, conv.dirty = last, true
	}
	return nil
}

func sameTime(a, b *models.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

// finishMessage derives the columns that follow from the registers.
func finishMessage(m *models.Message) {
	m.UpdatedAt = m.CreatedAt
	if t, ok := newestTime(m.Versions); ok {
		m.UpdatedAt = models.NewTime(t)
	}
}
