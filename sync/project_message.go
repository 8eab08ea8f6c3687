package sync

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
)

var messageStatus = map[string]string{
	models.TypeMessageReceived: models.MessageReceived,
	models.TypeMessageSent:     models.MessageSent,
	models.TypeMessageFailed:   models.MessageFailed,
}

func (w *work) applyMessage(ev *Event) error {
	d := ev.Message
	e, err := load(w, w.messages, d.MessageID, w.m.Message, func() *models.Message {
		return &models.Message{
			ID: d.MessageID, ConversationID: d.ConversationID,
			Direction: models.DirectionOutbound, Versions: models.Versions{},
		}
	}, messageCounter)
	if err != nil {
		return err
	}
	m, v := e.row, ev.Version()
	isNew := m.CreatedAt.IsZero()
	prevConversation := m.ConversationID

	changed := named(&m.CreatedAt, ev.CreatedAt)
	moved := changed // createdAt moves its conversation's lastMessageAt, either way
	raised := false  // its inbound or outbound time only grew
	if m.Versions.Claim("status", v) {
		// error belongs to the newest event, shown while that one failed.
		m.Status, m.Error, changed = messageStatus[ev.Type], nil, true
		if d.Error != nil {
			if m.Error, err = json.Marshal(d.Error); err != nil {
				return fmt.Errorf("sync: encode message error: %w", err)
			}
		}
	}
	switch ev.Type { // the conversation's lastInboundAt and lastOutboundAt are maxima of these
	case models.TypeMessageReceived:
		if later(&m.InboundAt, ev.CreatedAt) {
			changed, raised = true, true
		}
	case models.TypeMessageSent:
		if later(&m.OutboundAt, ev.CreatedAt) {
			changed, raised = true, true
		}
	}
	if ev.Type == models.TypeMessageReceived && m.Direction != models.DirectionInbound {
		m.Direction, changed = models.DirectionInbound, true
	}
	if m.Versions.Claim("conversationId", v) {
		moved = moved || m.ConversationID != d.ConversationID
		m.ConversationID, changed = d.ConversationID, true
	}
	changed = setOpt(m.Versions, "contactId", v, d.ContactID, &m.ContactID) || changed
	changed = setOpt(m.Versions, "channel", v, d.Channel, &m.Channel) || changed
	changed = setOpt(m.Versions, "body", v, d.Body, &m.Body) || changed
	changed = setOpt(m.Versions, "from", v, d.From, &m.From) || changed
	changed = setOpt(m.Versions, "to", v, d.To, &m.To) || changed
	e.dirty = e.dirty || changed
	switch {
	case w.addSums && e.was == "": // not stored yet: counted once, with its final values
		w.added[m.ID] = true
	case w.addSums && raised && !moved:
		if _, ok := w.added[m.ID]; !ok {
			w.added[m.ID] = false
		}
	case isNew || moved || raised:
		w.recount[m.ConversationID] = true
		if !isNew {
			w.recount[prevConversation] = true
		}
	}

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
	return nil
}

// later raises *at to t when t is later, and says whether it did.
func later(at **models.Time, t time.Time) bool {
	if *at != nil && !t.After((*at).Time) {
		return false
	}
	nt := models.NewTime(t)
	*at = &nt
	return true
}

// finishMessage derives the columns that follow from the registers.
func finishMessage(m *models.Message) {
	m.UpdatedAt = m.CreatedAt
	if t, ok := newestTime(m.Versions); ok {
		m.UpdatedAt = models.NewTime(t)
	}
	m.ErrorCode = nil
	if m.Error != nil {
		var e MessageError
		if json.Unmarshal(m.Error, &e) == nil {
			m.ErrorCode = e.Code
		}
	}
	m.Search = nil
	if m.Body != nil {
		s := strings.ToLower(*m.Body)
		m.Search = &s
	}
}
