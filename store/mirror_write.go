package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/buzzmirror/buzzmirror/models"
)

// Mirror is one set of mirror tables inside a mirror-writing transaction:
// the live tables, or the shadow tables a rebuild fills.
type Mirror struct {
	tx  *Tx
	set *tableSet
}

// Live is the mirror readers see.
func (tx *Tx) Live() Mirror { return Mirror{tx, liveTables} }

// Shadow is the mirror a rebuild fills (see CreateShadow). A row written
// to it that equals its live counterpart, registers included, keeps that
// one's syncedAt and seq: after the swap the change feed lists only the
// rows the rebuild changed.
func (tx *Tx) Shadow() Mirror { return Mirror{tx, shadowTables} }

// Tx is the transaction m belongs to.
func (m Mirror) Tx() *Tx { return m.tx }

// IsShadow reports whether m is the shadow a rebuild fills.
func (m Mirror) IsShadow() bool { return m.set.shadow }

func take[T any](m Mirror, t *table[T], id string) (*T, error) {
	found := map[string]*T{}
	if err := loadMany(m.tx, t, []string{id}, found); err != nil {
		return nil, err
	}
	if err := m.tx.Sync(); err != nil {
		return nil, fmt.Errorf("store: load %s %s: %w", t.name, id, err)
	}
	row, ok := found[id]
	if !ok {
		return nil, models.ErrNotFound
	}
	return row, nil
}

// loadMany reads the rows of t with the given ids into out; missing ids are
// absent from it. On Postgres the reads are queued, and the caller sends them.
func loadMany[T any](tx *Tx, t *table[T], ids []string, out map[string]*T) error {
	stored := tx.storedKeys(t.slot)
	for start, n := range chunks(len(ids)) {
		args := make([]any, n)
		for i, id := range ids[start : start+n] {
			args[i] = id
			stored[id] = nil // not found, until the row answers
		}
		err := tx.query(tx.texts.text(t.load, n), args, func(scan func(...any) error) error {
			row := new(T)
			if err := scan(t.fields(row)...); err != nil {
				return err
			}
			id := t.id(row)
			out[id] = row
			stored[id] = t.keyOf(row)
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: load %d %s: %w", n, t.name, err)
		}
	}
	return nil
}

// putMany upserts whole rows of t, several per statement. A row loaded in
// this transaction has only those of its indexed columns set that changed
// (see table); one it looked for and did not find is a plain INSERT,
// sparing Postgres ON CONFLICT's arbiter check (a tenth of the writer's
// backend CPU in a profile); the others are written whole. Rows are
// grouped a window at a time, so that a rebuild's flush of many thousands
// holds the values of a few only.
func putMany[T any](tx *Tx, t *table[T], rows []*T) error {
	stored := tx.storedKeys(t.slot)
	width := len(t.columns)
	for window := range slices.Chunk(rows, putWindow) {
		byMask := make([][]any, len(t.upsert)) // the rows' values, one after another, by the keys they set
		counts := make([]int, len(t.upsert))
		var inserts []any
		for _, row := range window {
			vals := t.values(row, make([]any, 0, len(t.columns)))
			id := t.id(row)
			keys := t.keysIn(vals)
			known, loaded := stored[id]
			if loaded && known == nil {
				inserts = append(inserts, vals...)
				stored[id] = keys
				continue
			}
			mask := t.changed(known, keys)
			byMask[mask] = append(byMask[mask], vals...)
			counts[mask]++
			if loaded {
				stored[id] = keys
			}
		}
		for start, n := range chunks(len(inserts) / width) {
			if err := tx.exec(tx.texts.text(t.insert, n), inserts[start*width:(start+n)*width]); err != nil {
				return fmt.Errorf("store: insert %d %s: %w", n, t.name, err)
			}
		}
		for mask, args := range byMask {
			for start, n := range chunks(counts[mask]) {
				if err := tx.exec(tx.texts.text(t.upsert[mask], n), args[start*width:(start+n)*width]); err != nil {
					return fmt.Errorf("store: write %d %s: %w", n, t.name, err)
				}
			}
		}
	}
	return nil
}

// putWindow is how many rows putMany groups at a time.
const putWindow = 1024

// keepUnchanged gives each shadow row that equals its live counterpart in
// every column but syncedAt and seq that row's syncedAt and seq.
func keepUnchanged[T any](tx *Tx, shadow, live *table[T], rows []*T) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = shadow.id(r)
	}
	found := make(map[string]*T, len(rows))
	// Reading the live rows must not count as having loaded them: the
	// transaction writes the shadow, not these.
	saved := tx.stored[live.slot]
	tx.stored[live.slot] = nil
	err := loadMany(tx, live, ids, found)
	if err == nil {
		err = tx.Sync()
	}
	tx.stored[live.slot] = saved
	if err != nil {
		return err
	}
	for _, r := range rows {
		was, ok := found[shadow.id(r)]
		if !ok {
			continue
		}
		ws, rs := live.stamp(was), shadow.stamp(r)
		synced, seq := *rs.synced, *rs.seq
		*rs.synced, *rs.seq = *ws.synced, *ws.seq // so that only the other columns can differ
		if !slices.Equal(live.values(was, nil), shadow.values(r, nil)) {
			*rs.synced, *rs.seq = synced, seq // changed: the caller's stamp stands
		}
	}
	return nil
}

func put[T any](m Mirror, pick func(*tableSet) *table[T], rows []*T) error {
	t := pick(m.set)
	if m.set.shadow {
		if err := keepUnchanged(m.tx, t, pick(liveTables), rows); err != nil {
			return err
		}
	}
	return putMany(m.tx, t, rows)
}

// Contact loads a contact for update.
func (m Mirror) Contact(id string) (*models.Contact, error) { return take(m, m.set.contacts, id) }

// Conversation loads a conversation for update.
func (m Mirror) Conversation(id string) (*models.Conversation, error) {
	return take(m, m.set.conversations, id)
}

// Message loads a message for update.
func (m Mirror) Message(id string) (*models.Message, error) { return take(m, m.set.messages, id) }

// WorkflowRun loads a workflow run for update.
func (m Mirror) WorkflowRun(id string) (*models.WorkflowRun, error) {
	return take(m, m.set.workflowRuns, id)
}

// Keys names mirror rows by kind.
type Keys struct {
	Contacts, Conversations, Messages, WorkflowRuns []string
}

// Rows holds mirror rows by kind and id.
type Rows struct {
	Contacts      map[string]*models.Contact
	Conversations map[string]*models.Conversation
	Messages      map[string]*models.Message
	WorkflowRuns  map[string]*models.WorkflowRun
}

// LoadLater reads the rows keys names in a few bulk reads, and the function
// it returns answers them; ids the store lacks are absent from the answer.
// On Postgres the reads wait for the transaction's next round trip, and
// that function sends them if nothing else did; on SQLite they run at once.
func (m Mirror) LoadLater(keys Keys) func() (*Rows, error) {
	r := &Rows{
		Contacts:      make(map[string]*models.Contact, len(keys.Contacts)),
		Conversations: make(map[string]*models.Conversation, len(keys.Conversations)),
		Messages:      make(map[string]*models.Message, len(keys.Messages)),
		WorkflowRuns:  make(map[string]*models.WorkflowRun, len(keys.WorkflowRuns)),
	}
	err := errors.Join(
		loadMany(m.tx, m.set.contacts, keys.Contacts, r.Contacts),
		loadMany(m.tx, m.set.conversations, keys.Conversations, r.Conversations),
		loadMany(m.tx, m.set.messages, keys.Messages, r.Messages),
		loadMany(m.tx, m.set.workflowRuns, keys.WorkflowRuns, r.WorkflowRuns),
	)
	return func() (*Rows, error) {
		if err == nil {
			err = m.tx.Sync()
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// PutContacts writes contacts and replaces the tag index of those in tags.
func (m Mirror) PutContacts(rows []*models.Contact, tags map[string][]string) error {
	if err := put(m, func(s *tableSet) *table[models.Contact] { return s.contacts }, rows); err != nil {
		return err
	}
	ids := make([]any, 0, len(tags))
	var pairs []any
	for _, id := range slices.Sorted(maps.Keys(tags)) {
		ids = append(ids, id)
		for _, t := range tags[id] {
			pairs = append(pairs, id, t)
		}
	}
	for start, n := range chunks(len(ids)) {
		if err := m.tx.exec(m.tx.texts.text(m.set.clearTags, n), ids[start:start+n]); err != nil {
			return fmt.Errorf("store: clear tags of %d contacts: %w", n, err)
		}
	}
	for start, n := range chunks(len(pairs) / 2) {
		if err := m.tx.exec(m.tx.texts.text(m.set.insertTags, n), pairs[2*start:2*(start+n)]); err != nil {
			return fmt.Errorf("store: write %d tags: %w", n, err)
		}
	}
	return nil
}

// PutConversations writes conversations.
func (m Mirror) PutConversations(rows []*models.Conversation) error {
	return put(m, func(s *tableSet) *table[models.Conversation] { return s.conversations }, rows)
}

// PutMessages writes messages.
func (m Mirror) PutMessages(rows []*models.Message) error {
	return put(m, func(s *tableSet) *table[models.Message] { return s.messages }, rows)
}

// PutWorkflowRuns writes workflow runs.
func (m Mirror) PutWorkflowRuns(rows []*models.WorkflowRun) error {
	return put(m, func(s *tableSet) *table[models.WorkflowRun] { return s.workflowRuns }, rows)
}

// Aggregate is what a conversation's stored messages add up to.
type Aggregate struct {
	Count          int64
	LastMessageAt  *models.Time
	LastInboundAt  *models.Time
	LastOutboundAt *models.Time
}

// MessageAggregates sums up the stored messages of each conversation in
// ids (a conversation without any is absent from the answer). Messages
// written earlier in this transaction count.
func (m Mirror) MessageAggregates(ids []string) (map[string]Aggregate, error) {
	out := make(map[string]Aggregate, len(ids))
	for start, n := range chunks(len(ids)) {
		args := make([]any, n)
		for i, id := range ids[start : start+n] {
			args[i] = id
		}
		err := m.tx.query(m.tx.texts.text(m.set.aggregates, n), args, func(scan func(...any) error) error {
			var id string
			var a Aggregate
			if err := scan(&id, &a.Count, &a.LastMessageAt, &a.LastInboundAt, &a.LastOutboundAt); err != nil {
				return err
			}
			out[id] = a
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: sum up messages of %d conversations: %w", n, err)
		}
	}
	if err := m.tx.Sync(); err != nil {
		return nil, fmt.Errorf("store: sum up messages of %d conversations: %w", len(ids), err)
	}
	return out, nil
}

// ConversationIDs lists up to limit conversation ids after after, in order.
func (m Mirror) ConversationIDs(after string, limit int) ([]string, error) {
	var ids []string
	q := m.tx.texts.rebind("SELECT id FROM " + m.set.conversations.name + " WHERE id > ? ORDER BY id LIMIT ?")
	err := m.tx.query(q, []any{after, limit}, func(scan func(...any) error) error {
		var id string
		if err := scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	if err == nil {
		err = m.tx.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", m.set.conversations.name, err)
	}
	return ids, nil
}
