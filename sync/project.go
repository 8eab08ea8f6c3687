package sync

import (
	"errors"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// The projection keeps each mirror row a pure function of the events that
// name it, without replaying them. Every field is a last-writer-wins
// register: the row's Versions map remembers, per field, the version of the
// event that set it, and an event sets a field only when it is newer. Dates
// are minima and maxima. Registers, minima and maxima all merge the same way
// whatever the order and however often an event is applied, so the mirror is
// order-independent and idempotent by construction, and an old event arriving
// late costs the same as a new one.

// entry is a row loaded (or created) by a unit of work.
type entry[T any] struct {
	row   *T
	dirty bool
}

// work applies one event inside a store transaction, loading each row it
// touches once and writing each changed row once.
type work struct {
	tx            *store.Tx
	contacts      map[string]*entry[models.Contact]
	conversations map[string]*entry[models.Conversation]
	messages      map[string]*entry[models.Message]
	runs          map[string]*entry[models.WorkflowRun]
	tags          map[string][]string // contacts whose tag set changed
}

func newWork(tx *store.Tx) *work {
	return &work{
		tx:            tx,
		contacts:      map[string]*entry[models.Contact]{},
		conversations: map[string]*entry[models.Conversation]{},
		messages:      map[string]*entry[models.Message]{},
		runs:          map[string]*entry[models.WorkflowRun]{},
		tags:          map[string][]string{},
	}
}

// apply projects ev and writes every row it changed.
func (w *work) apply(ev *Event) error {
	var err error
	switch {
	case ev.Message != nil:
		err = w.applyMessage(ev)
	case ev.Conversation != nil:
		err = w.applyConversation(ev)
	case ev.Contact != nil:
		err = w.applyContact(ev)
	case ev.Workflow != nil:
		err = w.applyWorkflow(ev)
	}
	if err != nil {
		return err
	}
	return w.flush()
}

// load returns the cached entry for id, or reads it through get, or creates
// it with fresh when the store has none.
func load[T any](cache map[string]*entry[T], id string, get func(string) (*T, error), fresh func() *T) (*entry[T], error) {
	if e, ok := cache[id]; ok {
		return e, nil
	}
	row, err := get(id)
	e := &entry[T]{row: row}
	if errors.Is(err, models.ErrNotFound) {
		e.row, e.dirty = fresh(), true
	} else if err != nil {
		return nil, err
	}
	cache[id] = e
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

// flush writes every dirty row, stamping it with the transaction's clock and
// change-feed position.
func (w *work) flush() error {
	now, seq := w.tx.Now(), w.tx.Seq()
	for id, e := range w.contacts {
		if !e.dirty {
			continue
		}
		finishContact(e.row)
		e.row.SyncedAt, e.row.Seq = now, seq
		if err := w.tx.PutContact(e.row, w.tags[id]); err != nil {
			return err
		}
		e.dirty = false
		delete(w.tags, id)
	}
	for _, e := range w.conversations {
		if e.dirty {
			finishConversation(e.row)
			e.row.SyncedAt, e.row.Seq = now, seq
			if err := w.tx.PutConversation(e.row); err != nil {
				return err
			}
			e.dirty = false
		}
	}
	for _, e := range w.messages {
		if err := w.flushMessage(e); err != nil {
			return err
		}
	}
	for _, e := range w.runs {
		if e.dirty {
			e.row.SyncedAt, e.row.Seq = now, seq
			if err := w.tx.PutWorkflowRun(e.row); err != nil {
				return err
			}
			e.dirty = false
		}
	}
	return nil
}
