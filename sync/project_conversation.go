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
// messages changed, from their stored messages (flush writes the messages
// first).
func (w *work) sumUp() error {
	if len(w.recount) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(w.recount))
	clear(w.recount)
	if err := w.fetch(store.Keys{Conversations: ids}); err != nil {
		return err
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
