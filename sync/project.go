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
// are minima and maxima, and a conversation's message count and last
// message are sums of its stored messages (a message new to the store is
// added to them, one that moved between conversations or in time has its
// conversations summed up again). Registers, minima, maxima
// and sums come out the same whatever the order and however often an event
// is applied, so the mirror is order-independent and idempotent by
// construction, and an old event arriving late costs the same as a new one.

// entry is a row of a unit of work. A nil row is known to be absent from
// the store; it is created the first time an event names it. was is the
// counter the row counted in when it was loaded or last written ("" while
// absent), so that writing it moves the counters exactly.
type entry[T any] struct {
	row   *T
	dirty bool
	was   string
	used  int // the work's tick when an event last named it (see evict)
}

// cache holds the rows of one kind that a unit of work touched.
type cache[T any] map[string]*entry[T]

// work applies events to one mirror (the live one, or a rebuild's shadow)
// inside one store transaction at a time: it loads the rows the events
// name in a few bulk reads, applies every event in memory, and writes each
// changed row once. A rebuild keeps one work across many transactions
// (see rebind).
type work struct {
	m             store.Mirror
	seq           int64 // the change-feed position the rows it writes take
	contacts      cache[models.Contact]
	conversations cache[models.Conversation]
	messages      cache[models.Message]
	runs          cache[models.WorkflowRun]
	tags          map[string][]string // contacts whose tag set changed
	recount       map[string]bool     // conversations to sum up from their stored messages
	added         map[string]bool     // messages to add to their conversation's sums (see addSums)
	counts        store.Counts        // what the rows written so far moved the counters by
	// deferSums leaves recount to the caller: a rebuild sums up every
	// conversation once at the end instead of after every page.
	deferSums bool
	// addSums adds a message the store has not held yet, and one that only
	// raised its inbound or outbound time, to its conversation's stored
	// sums instead of reading its conversation's messages again. It needs
	// those sums to count every stored message, which the projector's
	// writes keep true of the live mirror; a rebuild's shadow (summed up at
	// the end) and an erasure (which deletes messages) read them instead.
	addSums bool
	// tick counts the pages a rebuild applied, for evict.
	tick int
}

func newWork(m store.Mirror, seq int64) *work {
	return &work{
		m:             m,
		seq:           seq,
		contacts:      cache[models.Contact]{},
		conversations: cache[models.Conversation]{},
		messages:      cache[models.Message]{},
		runs:          cache[models.WorkflowRun]{},
		tags:          map[string][]string{},
		recount:       map[string]bool{},
		added:         map[string]bool{},
		counts:        store.Counts{},
	}
}

// rebind points the work at another transaction's mirror, keeping the
// rows it holds.
func (w *work) rebind(m store.Mirror) { w.m = m }

// project loads what events name, applies them and writes what changed.
func (w *work) project(events []*Event) error {
	if err := w.prefetch(events); err != nil {
		return err
	}
	for _, ev := range events {
		if err := w.apply(ev); err != nil {
			return err
		}
	}
	return w.flush()
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
	w.dropSums()
}

// dropSums forgets which conversations need summing up: the caller sums
// them up itself, or nothing was written.
func (w *work) dropSums() {
	clear(w.recount)
	clear(w.added)
}

// prefetch loads, in one bulk read per kind, every row the events name
// that the unit of work does not hold yet.
func (w *work) prefetch(events []*Event) error {
	var keys store.Keys
	for _, ev := range events {
		addKeys(&keys, ev)
	}
	return w.fetch(keys)
}

// addKeys adds the ids of the rows ev names to keys.
func addKeys(keys *store.Keys, ev *Event) {
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

// rowSet is a set of mirror rows by kind: those a unit of work holds,
// frozen while another goroutine goes on with that work.
type rowSet struct{ contacts, conversations, messages, runs map[string]bool }

// held is the set of rows w holds now, loaded or absent.
func (w *work) held() rowSet {
	return rowSet{idSet(w.contacts), idSet(w.conversations), idSet(w.messages), idSet(w.runs)}
}

// idSet is the set of the ids c holds.
func idSet[T any](c cache[T]) map[string]bool {
	set := make(map[string]bool, len(c))
	for id := range c {
		set[id] = true
	}
	return set
}

// names reports whether ev names a row of s.
func (s rowSet) names(ev *Event) bool {
	var keys store.Keys
	addKeys(&keys, ev)
	return anyOf(s.contacts, keys.Contacts) || anyOf(s.conversations, keys.Conversations) ||
		anyOf(s.messages, keys.Messages) || anyOf(s.runs, keys.WorkflowRuns)
}

// shares reports whether w holds a row of s.
func (w *work) shares(s rowSet) bool {
	return holdsAny(w.contacts, s.contacts) || holdsAny(w.conversations, s.conversations) ||
		holdsAny(w.messages, s.messages) || holdsAny(w.runs, s.runs)
}

// holdsAny reports whether c holds a row whose id is in set.
func holdsAny[T any](c cache[T], set map[string]bool) bool {
	for id := range c {
		if set[id] {
			return true
		}
	}
	return false
}

func anyOf(set map[string]bool, ids []string) bool {
	return slices.ContainsFunc(ids, func(id string) bool { return set[id] })
}

// fetch loads the rows keys names that the work does not hold yet.
func (w *work) fetch(keys store.Keys) error {
	keys.Contacts = missing(w.contacts, keys.Contacts)
	keys.Conversations = missing(w.conversations, keys.Conversations)
	keys.Messages = missing(w.messages, keys.Messages)
	keys.WorkflowRuns = missing(w.runs, keys.WorkflowRuns)
	if len(keys.Contacts)+len(keys.Conversations)+len(keys.Messages)+len(keys.WorkflowRuns) == 0 {
		return nil
	}
	found, err := w.m.LoadLater(keys)()
	if err != nil {
		return err
	}
	settle(w, w.contacts, keys.Contacts, found.Contacts, contactCounter)
	settle(w, w.conversations, keys.Conversations, found.Conversations, conversationCounter)
	settle(w, w.messages, keys.Messages, found.Messages, messageCounter)
	settle(w, w.runs, keys.WorkflowRuns, found.WorkflowRuns, runCounter)
	return nil
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
func settle[T any](w *work, c cache[T], ids []string, found map[string]*T, counter func(*T) string) {
	for _, id := range ids {
		e := &entry[T]{row: found[id], used: w.tick}
		if e.row != nil {
			e.was = counter(e.row)
		}
		c[id] = e
	}
}

// load returns the entry for id, reading it through get when it is not
// cached, and creating it with fresh when the store has none.
func load[T any](w *work, c cache[T], id string, get func(string) (*T, error), fresh func() *T, counter func(*T) string) (*entry[T], error) {
	e, ok := c[id]
	if !ok {
		row, err := get(id)
		if err != nil && err != models.ErrNotFound {
			return nil, err
		}
		e = &entry[T]{row: row}
		if row != nil {
			e.was = counter(row)
		}
		c[id] = e
	}
	if e.row == nil {
		e.row, e.dirty = fresh(), true
	}
	e.used = w.tick
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
	return versionTime(newest)
}

// versionTime is the time part of a version; ok is false for "".
func versionTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := models.ParseTime(v[:len(models.FormatTime(time.Time{}))])
	return t, err == nil
}

// dirtyIDs lists the ids of the changed rows of a cache, sorted.
func dirtyIDs[T any](c cache[T]) []string {
	var ids []string
	for id, e := range c {
		if e.dirty {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// takeRows collects the rows ids of a cache for writing, stamping each with
// finish, moving the counters from where each counted to where it counts
// now, and clearing its dirty mark.
func takeRows[T any](w *work, c cache[T], ids []string, finish func(*T), counter func(*T) string) []*T {
	rows := make([]*T, 0, len(ids))
	for _, id := range ids {
		e := c[id]
		finish(e.row)
		rows = append(rows, e.row)
		e.dirty = false
		if now := counter(e.row); now != e.was {
			w.counts.Add(now, 1)
			w.counts.Add(e.was, -1)
			e.was = now
		}
	}
	return rows
}

// dirtyRows takes every changed row of a cache (see takeRows).
func dirtyRows[T any](w *work, c cache[T], finish func(*T), counter func(*T) string) []*T {
	return takeRows(w, c, dirtyIDs(c), finish, counter)
}

// flush writes every changed row, stamped with the transaction's clock and
// the work's change-feed position. Messages go first: the conversations
// they changed then take their sums (see sumUp).
func (w *work) flush() error {
	if err := w.flushMessages(); err != nil {
		return err
	}
	if w.deferSums {
		w.dropSums()
	} else if err := w.sumUp(); err != nil {
		return err
	}
	return w.flushRows(dirtyIDs(w.contacts), dirtyIDs(w.conversations), dirtyIDs(w.runs))
}

// flushRows writes the contacts, conversations and runs named, which must
// be changed rows of the work.
func (w *work) flushRows(contactIDs, conversationIDs, runIDs []string) error {
	now := w.m.Tx().Now()
	contacts := takeRows(w, w.contacts, contactIDs, func(c *models.Contact) {
		finishContact(c)
		c.SyncedAt, c.Seq = now, w.seq
	}, contactCounter)
	tags := map[string][]string{}
	for _, id := range contactIDs {
		if t, ok := w.tags[id]; ok {
			tags[id] = t
			delete(w.tags, id)
		}
	}
	if err := w.m.PutContacts(contacts, tags); err != nil {
		return err
	}
	conversations := takeRows(w, w.conversations, conversationIDs, func(c *models.Conversation) {
		finishConversation(c)
		c.SyncedAt, c.Seq = now, w.seq
	}, conversationCounter)
	if err := w.m.PutConversations(conversations); err != nil {
		return err
	}
	runs := takeRows(w, w.runs, runIDs, func(r *models.WorkflowRun) { r.SyncedAt, r.Seq = now, w.seq }, runCounter)
	return w.m.PutWorkflowRuns(runs)
}

// flushMessages writes the changed messages.
func (w *work) flushMessages() error {
	now := w.m.Tx().Now()
	return w.m.PutMessages(dirtyRows(w, w.messages, func(m *models.Message) {
		finishMessage(m)
		m.SyncedAt, m.Seq = now, w.seq
	}, messageCounter))
}

// The counters each kind of row counts in.
func contactCounter(*models.Contact) string { return store.CountContacts }
func conversationCounter(c *models.Conversation) string {
	return store.ConversationCount(c.Status)
}
func messageCounter(m *models.Message) string { return store.MessageCount(m.Status) }
func runCounter(*models.WorkflowRun) string   { return store.CountWorkflowRuns }
