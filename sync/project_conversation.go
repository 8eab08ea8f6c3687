package sync

import (
	"maps"
	"slices"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Register keys of a conversation besides its plain fields: the newest
// conversation.opened and conversation.resolved.
const (
	regOpened   = "opened"
	regResolved = "resolved"
)

// conversation returns the conversation id, created when unknown, dated by
// an event of time t that names it.
func (w *work) conversation(id string, t time.Time) (*entry[models.Conversation], error) {
	e, err := w.loadConversation(id)
	if err != nil {
		return nil, err
	}
	if named(&e.row.CreatedAt, t) {
		e.dirty = true
	}
	return e, nil
}

// loadConversation returns the conversation id without dating it.
func (w *work) loadConversation(id string) (*entry[models.Conversation], error) {
	return load(w, w.conversations, id, w.m.Conversation, func() *models.Conversation {
		return &models.Conversation{ID: id, Status: models.ConversationOpen, Versions: models.Versions{}}
	}, conversationCounter)
}

func (w *work) applyConversation(ev *Event) error {
	d := ev.Conversation
	e, err := w.conversation(d.ConversationID, ev.CreatedAt)
	if err != nil {
		return err
	}
	c, v := e.row, ev.Version()
	status, reg := models.ConversationOpen, regOpened
	if ev.Type == models.TypeConversationResolved {
		status, reg = models.ConversationResolved, regResolved
	}
	changed := c.Versions.Claim(reg, v)
	if c.Versions.Claim("status", v) {
		c.Status, changed = status, true
	}
	changed = setOpt(c.Versions, "contactId", v, d.ContactID, &c.ContactID) || changed
	changed = setOpt(c.Versions, "channel", v, d.Channel, &c.Channel) || changed
	e.dirty = e.dirty || changed
	if d.ContactID.Val != nil {
		if _, err := w.contact(*d.ContactID.Val, ev.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// finishConversation derives the columns that follow from the registers.
// updatedAt also counts lastMessageAt: a new message changes the
// conversation's messageCount and lastMessageAt, and a tool syncing by
// updatedSince must see that.
func finishConversation(c *models.Conversation) {
	c.OpenedAt = registerTime(c.Versions, regOpened)
	c.ResolvedAt = nil
	if c.Status == models.ConversationResolved {
		c.ResolvedAt = registerTime(c.Versions, regResolved)
	}
	c.UpdatedAt = c.CreatedAt
	if t, ok := newestTime(c.Versions); ok {
		c.UpdatedAt = models.NewTime(t)
	}
	if c.LastMessageAt != nil && c.LastMessageAt.After(c.UpdatedAt.Time) {
		c.UpdatedAt = *c.LastMessageAt
	}
	c.AwaitingReply = c.Status == models.ConversationOpen && c.LastInboundAt != nil &&
		(c.LastOutboundAt == nil || c.LastOutboundAt.Before(c.LastInboundAt.Time))
}

// registerTime is the time of the event that holds register key, or nil.
func registerTime(vs models.Versions, key string) *models.Time {
	t, ok := versionTime(vs[key])
	if !ok {
		return nil
	}
	mt := models.NewTime(t)
	return &mt
}

// sumUp sets messageCount and lastMessageAt of the conversations whose
// messages changed (flush writes the messages first): those in recount
// from their stored messages, the others by adding the messages in added
// to the sums they have.
func (w *work) sumUp() error {
	if len(w.recount)+len(w.added) == 0 {
		return nil
	}
	recount := w.recount
	ids := slices.Sorted(maps.Keys(recount))
	adding := map[string][]*models.Message{}
	for id, fresh := range w.added {
		m := w.messages[id].row
		if recount[m.ConversationID] {
			continue // its sums are read whole
		}
		if fresh {
			adding[m.ConversationID] = append(adding[m.ConversationID], m)
		} else {
			adding[m.ConversationID] = append(adding[m.ConversationID], &models.Message{InboundAt: m.InboundAt, OutboundAt: m.OutboundAt})
		}
	}
	if err := w.fetch(store.Keys{Conversations: append(slices.Collect(maps.Keys(adding)), ids...)}); err != nil {
		return err
	}
	w.recount, w.added = map[string]bool{}, map[string]bool{}
	for id, ms := range adding {
		if e := w.conversations[id]; e.row != nil {
			e.dirty = addSums(e.row, ms) || e.dirty
		}
	}
	if len(ids) == 0 {
		return nil
	}
	sums, err := w.m.MessageAggregates(ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if e := w.conversations[id]; e.row != nil {
			e.dirty = setSums(e.row, sums[id]) || e.dirty
		}
	}
	return nil
}

// addSums adds messages to c's sums and reports whether they changed. A
// message with a zero createdAt only raises the inbound and outbound
// times (it is counted already).
func addSums(c *models.Conversation, ms []*models.Message) bool {
	s := store.Aggregate{Count: c.MessageCount, LastMessageAt: c.LastMessageAt, LastInboundAt: c.LastInboundAt, LastOutboundAt: c.LastOutboundAt}
	for _, m := range ms {
		if created := m.CreatedAt; !created.IsZero() {
			s.Count++
			s.LastMessageAt = latest(s.LastMessageAt, &created)
		}
		s.LastInboundAt = latest(s.LastInboundAt, m.InboundAt)
		s.LastOutboundAt = latest(s.LastOutboundAt, m.OutboundAt)
	}
	return setSums(c, s)
}

// latest is the later of two times, a copy; nil is earlier than any.
func latest(a, b *models.Time) *models.Time {
	if a == nil || (b != nil && b.After(a.Time)) {
		a = b
	}
	if a == nil {
		return nil
	}
	t := *a
	return &t
}

// setSums gives c the sums of its messages and reports whether they changed.
func setSums(c *models.Conversation, s store.Aggregate) bool {
	if c.MessageCount == s.Count && sameTime(c.LastMessageAt, s.LastMessageAt) &&
		sameTime(c.LastInboundAt, s.LastInboundAt) && sameTime(c.LastOutboundAt, s.LastOutboundAt) {
		return false
	}
	c.MessageCount, c.LastMessageAt, c.LastInboundAt, c.LastOutboundAt = s.Count, s.LastMessageAt, s.LastInboundAt, s.LastOutboundAt
	return true
}

func sameTime(a, b *models.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}
