package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Erasure forgets a person. The rows it removes are the contact, the
// conversations, messages and workflow runs whose contactId is the
// contact's (in the mirror, or in an event naming the contact), and its
// events are every event dated at or before the erasure that names one of
// those rows: each keeps only its id, type and times, with status erased.
//
// Because the projection is a pure function of the events that name a row,
// erasing is "forget those events, then compute again every row they
// named": the rows they named are deleted and the rows' remaining applied
// events applied again, in one transaction that holds the projector lease,
// so that the mirror is what a rebuild of the erased journal gives. The
// erased rows are recorded first (table erasures): a delivery committed
// after that which names one of them, dated at or before the erasure, is
// journaled as erased at once (Journal.write), in whatever order things
// arrive.

// EraseOptions configure Erase.
type EraseOptions struct {
	DryRun   bool          // count, change nothing
	Holder   string        // lease holder name
	LeaseTTL time.Duration // 10 s when zero; renewed while it works
	At       time.Time     // the erasure's time; now when zero (tests set it)
}

// EraseStats is what an erasure removed (or, dry, would remove).
type EraseStats struct {
	Contacts, Conversations, Messages, WorkflowRuns int // rows removed from the mirror
	Events                                          int // journaled events erased
	Recomputed                                      int // other rows computed again without them
}

// Erase forgets the contact id, on a database serve may be using.
func Erase(ctx context.Context, db *store.DB, log *slog.Logger, contactID string, opts EraseOptions) (EraseStats, error) {
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder("erase")
	}
	at := models.NewTime(db.Now())
	if !opts.At.IsZero() {
		at = models.NewTime(opts.At)
	}

	// The projector's lease, held throughout: no event is applied between
	// reading what to compute again and computing it.
	epoch, _, err := db.AcquireLease(ctx, opts.Holder, opts.LeaseTTL, true)
	if err != nil {
		return EraseStats{}, err
	}
	defer func() { _ = db.ReleaseLease(context.WithoutCancel(ctx), epoch) }()
	lost, stopRenewing := keepLease(ctx, db, epoch, opts.LeaseTTL)
	defer stopRenewing()

	// The rows: the contact's in the mirror, and what events naming the
	// contact name beside it (some may still be pending).
	rows, err := db.RowsOfContact(ctx, contactID)
	if err != nil {
		return EraseStats{}, err
	}
	rows.Add(store.KindContact, contactID)
	naming, err := db.EventsNaming(ctx, store.Refs{store.KindContact: {contactID: true}}, at)
	if err != nil {
		return EraseStats{}, err
	}
	for _, row := range naming {
		if ev, status, _ := decodeJournaled(row); status == models.EventPending {
			rows.Merge(ev.owned())
		}
	}

	if !opts.DryRun {
		if err := db.Write(ctx, func(tx *store.Tx) error { return tx.RecordErasures(rows, at) }); err != nil {
			return EraseStats{}, err
		}
	}
	// Every event naming those rows, read after the erasures were recorded:
	// deliveries committed since see them.
	erased, err := db.EventsNaming(ctx, rows, at)
	if err != nil {
		return EraseStats{}, err
	}
	erasedIDs := map[string]bool{}
	touched := store.Refs{}
	touched.Merge(rows)
	for _, row := range erased {
		erasedIDs[row.ID] = true
		if ev, status, _ := decodeJournaled(row); status == models.EventPending {
			touched.Merge(ev.refs())
		}
	}
	// What else named the rows those events touched: applied again.
	others, err := db.EventsNaming(ctx, touched, models.NewTime(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)))
	if err != nil {
		return EraseStats{}, err
	}
	var again []*Event
	for _, row := range others {
		if erasedIDs[row.ID] || row.Status != models.EventApplied {
			continue // pending ones are the projector's, after us
		}
		if ev, status, _ := decodeJournaled(row); status == models.EventPending {
			again = append(again, ev)
		}
	}

	var st EraseStats
	st.Events = len(erasedIDs)
	err = db.Write(ctx, func(tx *store.Tx) error {
		held, err := tx.LeaseEpoch()
		if err != nil {
			return err
		}
		if held != epoch {
			return store.Abort(store.ErrLeaseLost)
		}
		existing, err := tx.Existing(touched)
		if err != nil {
			return err
		}
		if opts.DryRun { // what the mirror holds of the rows, and of the rest touched
			st.Contacts, st.Conversations = countIn(existing, rows, store.KindContact), countIn(existing, rows, store.KindConversation)
			st.Messages, st.WorkflowRuns = countIn(existing, rows, store.KindMessage), countIn(existing, rows, store.KindWorkflowRun)
			st.Recomputed = existing.Len() - st.Contacts - st.Conversations - st.Messages - st.WorkflowRuns
			return store.Abort(errDry)
		}
		st.Contacts, st.Conversations = len(existing[store.KindContact]), len(existing[store.KindConversation])
		st.Messages, st.WorkflowRuns = len(existing[store.KindMessage]), len(existing[store.KindWorkflowRun])
		counts, err := tx.EraseEvents(sortedKeys(erasedIDs))
		if err != nil {
			return err
		}
		removed, err := tx.DeleteRows(existing)
		if err != nil {
			return err
		}
		counts = addCounts(counts, removed)
		w := newWork(tx.Live(), tx.Seq())
		if err := w.project(again); err != nil {
			return err
		}
		counts = addCounts(counts, w.counts)
		back, err := tx.Existing(existing)
		if err != nil {
			return err
		}
		for _, kind := range store.FeedKinds {
			var gone []string
			for _, id := range existing.IDs(kind) {
				if !back.Has(kind, id) {
					gone = append(gone, id)
				}
			}
			if err := tx.RecordDeletions(kind, gone, tx.Seq()); err != nil {
				return err
			}
		}
		// Rows computed again count as recomputed, not removed.
		st.Recomputed = back.Len()
		st.Contacts -= len(back[store.KindContact])
		st.Conversations -= len(back[store.KindConversation])
		st.Messages -= len(back[store.KindMessage])
		st.WorkflowRuns -= len(back[store.KindWorkflowRun])
		return tx.AddCounts(counts)
	})
	select {
	case <-lost:
		if err == nil {
			log.Warn("erase: the lease was taken over after the erasure committed")
		}
	default:
	}
	if errors.Is(err, errDry) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("erase: %w", err)
	}
	log.Info("erased a contact", "rows", st.Contacts+st.Conversations+st.Messages+st.WorkflowRuns, "events", st.Events)
	return st, nil
}

var errDry = errors.New("dry run")

// countIn counts the rows of kind in both a and b.
func countIn(a, b store.Refs, kind string) int {
	n := 0
	for id := range a[kind] {
		if b.Has(kind, id) {
			n++
		}
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// refs are the rows an event names, of every kind.
func (ev *Event) refs() store.Refs {
	r := store.Refs{}
	opt := func(kind string, id Opt[string]) {
		if id.Val != nil {
			r.Add(kind, *id.Val)
		}
	}
	switch {
	case ev.Message != nil:
		r.Add(store.KindMessage, ev.Message.MessageID)
		r.Add(store.KindConversation, ev.Message.ConversationID)
		opt(store.KindContact, ev.Message.ContactID)
	case ev.Conversation != nil:
		r.Add(store.KindConversation, ev.Conversation.ConversationID)
		opt(store.KindContact, ev.Conversation.ContactID)
	case ev.Contact != nil:
		r.Add(store.KindContact, ev.Contact.ContactID)
	case ev.Workflow != nil:
		r.Add(store.KindWorkflowRun, runID(ev))
		opt(store.KindContact, ev.Workflow.ContactID)
		opt(store.KindConversation, ev.Workflow.ConversationID)
	}
	return r
}

// owned are the rows an event naming a contact makes that contact's: the
// conversation, message or run it names beside the contact.
func (ev *Event) owned() store.Refs {
	r := ev.refs()
	delete(r, store.KindContact)
	if ev.Workflow != nil {
		delete(r, store.KindConversation) // a run names a conversation; it does not make it the contact's
	}
	return r
}
