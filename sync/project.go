package sync

import (
	"slices"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// The projection keeps each mirror row a pure function of the events that
// name it, without replaying them. Every field is a last-writer-wins
// register: the row's Versions map remembers, per field, the version of the
// event that set it, and an event sets a field only when it is newer. Dates
// are minima and maxima; messageCount is kept exact by counting each
// message into the conversation it currently belongs to. Registers, minima
// and maxima merge the same way whatever the order and however often an
// event is applied, so the mirror is order-independent and idempotent by
// construction, and an old event arriving late costs the same as a new one.

// entry is a row of a unit of work. A nil row is known to be absent from
// the store; it is created the first time an event names it.
type entry[T any] struct {
	row   *T
	dirty bool
}

// cache holds the rows of one kind that a unit of work touched.
type cache[T any] map[string]*entry[T]

// work applies a batch of events inside one store transaction: it loads the
// rows the batch names in a few bulk reads, applies every event in memory,
// and writes each changed row once.
type work struct {
	tx            *store.Tx
	contacts      cache[models.Contact]
	conversations cache[models.Conversation]
	messages      cache[models.Message]
	runs          cache[models.WorkflowRun]
	tags          map[string][]string // contacts whose tag set changed
}

func newWork(tx *store.Tx) *work {
	return &work{
		tx:            tx,
		contacts:      cache[models.Contact]{},
		conversations: cache[models.Conversation]{},
		messages:      cache[models.Message]{},
		runs:          cache[models.WorkflowRun]{},
		tags:          map[string][]string{},
	}
}

// apply projects one event into the cached rows.
func (w *work) apply(ev *Event) error {
	switch {
	case ev.Message != nil:
		return w.applyMessage(ev)
	case ev.Conversation != nil:
		return w.applyConversation(ev)
	case ev.Contact != nil:
		return w.applyContact(ev)
	case ev.Workflow != nil:
		return w.applyWorkflow(ev)
	}
	return nil
}

// size is how many rows the unit of work holds.
func (w *work) size() int {
	return len(w.contacts) + len(w.conversations) + len(w.messages) + len(w.runs)
}

// forget drops every cached row; the caller flushed them, or the
// transaction rolled their changes back.
func (w *work) forget() {
	clear(w.contacts)
	clear(w.conversations)
	clear(w.messages)
	clear(w.runs)
	clear(w.tags)
}

// prefetch loads, in one bulk read per kind, every row the events name
// that the unit of work does not hold yet.
func (w *work) prefetch(events []*Event) error { return w.fetch(events)() }

// fetch is prefetch in two steps: on Postgres the reads go with the
// transaction's next round trip, and the function it returns caches what
// they found.
func (w *work) fetch(events []*Event) func() error {
	var keys store.Keys
	for _, ev := range events {
		switch {
		case ev.Message != nil:
			keys.Messages = append(keys.Messages, ev.Message.MessageID)
			keys.Conversations = append(keys.Conversations, ev.Message.ConversationID)
			if id := ev.Message.ContactID.Val; id != nil {
				keys.Contacts = append(keys.Contacts, *id)
			}
		case ev.Conversation != nil:
			keys.Conversations = append(keys.Conversations, ev.Conversation.ConversationID)
			if id := ev.Conversation.ContactID.Val; id != nil {
				keys.Contacts = append(keys.Contacts, *id)
			}
		case ev.Contact != nil:
			keys.Contacts = append(keys.Contacts, ev.Contact.ContactID)
		case ev.Workflow != nil:
			keys.WorkflowRuns = append(keys.WorkflowRuns, runID(ev))
		}
	}
	keys.Contacts = missing(w.contacts, keys.Contacts)
	keys.Conversations = missing(w.conversations, keys.Conversations)
	keys.Messages = missing(w.messages, keys.Messages)
	keys.WorkflowRuns = missing(w.runs, keys.WorkflowRuns)
	if len(keys.Contacts)+len(keys.Conversations)+len(keys.Messages)+len(keys.WorkflowRuns) == 0 {
		return func() error { return nil }
	}
	loaded := w.tx.LoadLater(keys)
	return func() error {
		found, err := loaded()
		if err != nil {
			return err
		}
		settle(w.contacts, keys.Contacts, found.Contacts)
		settle(w.conversations, keys.Conversations, found.Conversations)
		settle(w.messages, keys.Messages, found.Messages)
		settle(w.runs, keys.WorkflowRuns, found.WorkflowRuns)
		return nil
	}
}

// missing returns the distinct ids that c does not hold, sorted.
func missing[T any](c cache[T], ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := c[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// settle caches the rows loaded for ids, and marks the ones the store
// lacks as absent.
func settle[T any](c cache[T], ids []string, found map[string]*T) {
	for _, id := range ids {
		c[id] = &entry[T]{row: found[id]}
	}
}

// load returns the entry for id, reading it through get when it is not
// cached, and creating it with fresh when the store has none.
func load[T any](c cache[T], id string, get func(string) (*T, error), fresh func() *T) (*entry[T], error) {
	e, ok := c[id]
	if !ok {
		row, err := get(id)
		if err != nil && err != models.ErrNotFound {
			return nil, err
		}
		e = &entry[T]{row: row}
		c[id] = e
	}
	if e.row == nil {
		e.row, e.dirty = fresh(), true
	}
	return e, nil
}

// named records that an event of time t names a row first created at
// *created; the row's createdAt is the oldest such time.
func named(created *models.Time, t time.Time) bool {
	if created.IsZero() || t.Before(created.Time) {
		*created = models.NewTime(t)
		return true
	}
	return false
}

// setOpt writes o into *dst when o is carried and v wins the field's register.
func setOpt[T any](vs models.Versions, key, v string, o Opt[T], dst **T) bool {
	if !o.Set || !vs.Claim(key, v) {
		return false
	}
	*dst = o.Val
	return true
}

// newestTime is the time of the newest version in vs; ok is false when vs
// is empty.
func newestTime(vs models.Versions) (t time.Time, ok bool) {
	var newest string
	for _, v := range vs {
		if v > newest {
			newest = v
		}
	}
	if newest == "" {
		return time.Time{}, false
	}
	t, err := models.ParseTime(newest[:len(models.FormatTime(time.Time{}))])
	return t, err == nil
}

// dirtyRows collects the changed rows of a cache in the order of their ids,
// stamping each with finish and clearing its dirty mark.
func dirtyRows[T any](c cache[T], finish func(*T)) []*T {
	var ids []string
	for id, e := range c {
		if e.dirty {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	rows := make([]*T, 0, len(ids))
	for _, id := range ids {
		e := c[id]
		finish(e.row)
		rows = append(rows, e.row)
		e.dirty = false
	}
	return rows
}

// flush writes every changed row, stamped with the transaction's clock and
// change-feed position.
func (w *work) flush() error {
	now, seq := w.tx.Now(), w.tx.Seq()
	contacts := dirtyRows(w.contacts, func(c *models.Contact) {
		finishContact(c)
		c.SyncedAt, c.Seq = now, seq
	})
	if err := w.tx.PutContacts(contacts, w.tags); err != nil {
		return err
	}
	clear(w.tags)
	conversations := dirtyRows(w.conversations, func(c *models.Conversation) {
		finishConversation(c)
		c.SyncedAt, c.Seq = now, seq
	})
	if err := w.tx.PutConversations(conversations); err != nil {
		return err
	}
	if err := w.flushMessages(); err != nil {
		return err
	}
	runs := dirtyRows(w.runs, func(r *models.WorkflowRun) { r.SyncedAt, r.Seq = now, seq })
	return w.tx.PutWorkflowRuns(runs)
}

// flushMessages writes the changed messages.
func (w *work) flushMessages() error {
	now, seq := w.tx.Now(), w.tx.Seq()
	return w.tx.PutMessages(dirtyRows(w.messages, func(m *models.Message) {
		finishMessage(m)
		m.SyncedAt, m.Seq = now, seq
	}))
}
