package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// RebuildOptions tune a rebuild. Zero values take the defaults.
type RebuildOptions struct {
	// Page is how many journal rows the rebuild reads and applies at a
	// time, each page in a transaction of its own (500): on SQLite that
	// transaction holds the write lock, and every delivery waits for it,
	// about 35 ms (2000 held it 135 ms, and deliveries during a rebuild
	// waited up to 200 ms at p99 instead of 50).
	Page int
	// CacheRows bounds the contacts, conversations and workflow runs kept
	// in memory between pages (64,000: with 80,000 a 3M-event rebuild
	// peaked at 310 MB); fewer cost speed, not correctness.
	CacheRows int
	// Batch is the most pending events the rebuild applies to the live
	// mirror at a time while it runs (1000).
	Batch int
	// LeaseTTL is how long its lease lasts unless renewed (5 s).
	LeaseTTL time.Duration
	// Holder names the rebuild in the lease.
	Holder string
	// Progress hears where the rebuild stands, after every page.
	Progress func(RebuildProgress)
}

// RebuildProgress is where a rebuild stands.
type RebuildProgress struct {
	Phase string // "journal", "summing up", "swapping", "cleaning up", "done"
	Done  int64  // journal rows read (conversations summed up, rows left to delete)
	Total int64  // journal rows when the rebuild began (conversations; rows)
}

// RebuildStats summarises a rebuild.
type RebuildStats struct {
	Events  int // journal rows read
	Applied int // of those, applied to the new mirror
	Ignored int
	Failed  int
	Erased  int
	Removed int // rows of the old mirror the new one lacks
}

// Rebuild recomputes the mirror from the journal while the service goes on
// answering deliveries. It fills shadow tables page by page, in short
// transactions, then swaps them for the live ones in one: readers see the
// old mirror until then, the new one after, and the change feed lists
// every row that changed or went away. Every event is decoded again, so
// one quarantined by an older buzzmirror is applied when this one
// understands it.
//
// The rebuild takes the projector lease for the time it runs, so that it
// alone writes the mirror: between pages it applies the events journaled
// meanwhile, to the live mirror as the projector would and to the shadow
// too, which therefore holds every event the live mirror holds when the
// two are swapped.
func Rebuild(ctx context.Context, db *store.DB, log *slog.Logger, opts RebuildOptions) (RebuildStats, error) {
	if opts.Page <= 0 {
		opts.Page = 500
	}
	if opts.CacheRows <= 0 {
		opts.CacheRows = 64_000
	}
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 5 * time.Second
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder("rebuild")
	}
	if opts.Progress == nil {
		opts.Progress = func(RebuildProgress) {}
	}
	r := &rebuilder{db: db, log: log, opts: opts, changes: map[string]outcome{}}
	return r.run(ctx)
}

// outcome is what a rebuild decided of a journaled event, when that
// differs from what the journal says.
type outcome struct {
	status models.EventStatus
	reason *string
}

type rebuilder struct {
	db   *store.DB
	log  *slog.Logger
	opts RebuildOptions

	epoch   int64 // the lease's
	renewed time.Time
	gen     int64 // the shadow's generation
	seq     int64 // the change-feed position of every row the rebuild changes
	w       *work // the shadow mirror's rows in memory
	careful bool  // every page alone, a failing one event by event (see run)
	carry   []*Event
	changes map[string]outcome // by event id, applied at the swap
	counts  store.Counts       // the shadow's counters, but for what r.w holds
	removed map[string][]string
	stats   RebuildStats
}

func (r *rebuilder) run(ctx context.Context) (RebuildStats, error) {
	lease, err := r.db.CurrentLease(ctx)
	if err != nil {
		return r.stats, err
	}
	if lease.Held && strings.HasPrefix(lease.Holder, "rebuild ") {
		return r.stats, fmt.Errorf("sync: another rebuild is running (%s); wait for it to finish", lease.Holder)
	}
	epoch, _, err := r.db.AcquireLease(ctx, r.opts.Holder, r.opts.LeaseTTL, true)
	if err != nil {
		return r.stats, err
	}
	r.epoch, r.renewed = epoch, time.Now()
	defer func() { _ = r.db.ReleaseLease(context.WithoutCancel(ctx), r.epoch) }()

	err = r.build(ctx)
	if err != nil && !errors.Is(err, store.ErrLeaseLost) && ctx.Err() == nil && !store.Transient(err) {
		// A value the database refuses fails a whole page; go again, each
		// page alone and a failing one event by event, so that such an
		// event is kept as failed instead of stopping the rebuild.
		r.log.Warn("rebuild: a page failed; rebuilding again page by page", "err", err)
		r.careful, r.changes, r.stats, r.carry = true, map[string]outcome{}, RebuildStats{}, nil
		err = r.build(ctx)
	}
	if err != nil {
		if ctx.Err() == nil {
			if dropErr := r.db.DropShadow(context.WithoutCancel(ctx)); dropErr != nil {
				r.log.Warn("rebuild: could not remove the partial mirror; the next rebuild does", "err", dropErr)
			}
		}
		return r.stats, err
	}
	if err := r.db.ReleaseLease(ctx, r.epoch); err != nil {
		r.log.Warn("rebuild: could not give the lease up; the projector takes over when it lapses", "err", err)
	}
	r.opts.Progress(RebuildProgress{Phase: "cleaning up"})
	err = r.db.DropRetired(ctx, func(left int64) { r.opts.Progress(RebuildProgress{Phase: "cleaning up", Done: left}) })
	if err != nil {
		return r.stats, fmt.Errorf("sync: the new mirror is in place, but the old one could not be removed (run rebuild again to retry): %w", err)
	}
	r.opts.Progress(RebuildProgress{Phase: "done", Done: int64(r.stats.Events), Total: int64(r.stats.Events)})
	return r.stats, nil
}

// build fills a new shadow mirror and swaps it in.
//
// The contacts, conversations and workflow runs the journal names are
// kept in memory from page to page and written once they are evicted or
// the journal ends, since later events name them again and again (a
// conversation's events lie close together in a journal, most of the
// time); messages are written after every page.
func (r *rebuilder) build(ctx context.Context) error {
	var err error
	if r.gen, err = r.db.CreateShadow(ctx); err != nil {
		return err
	}
	end, err := r.db.FeedEnd(ctx)
	if err != nil {
		return err
	}
	// Every position handed out until the swap lies below this one: the
	// live mirror's writers (this rebuild, while it runs) take far fewer.
	r.seq = end.Seq + 1<<32
	r.counts = store.Counts{}
	r.w = newWork(store.Mirror{}, r.seq)
	r.w.deferSums = true
	st, err := r.db.Stats(ctx)
	if err != nil {
		return err
	}
	total := st.JournalRows()
	r.opts.Progress(RebuildProgress{Phase: "journal", Total: total})
	journal := readJournal(ctx, r.db, r.opts.Page)
	defer journal.close()
	for page := range journal.pages {
		if err := r.page(ctx, page); err != nil {
			return err
		}
		r.opts.Progress(RebuildProgress{Phase: "journal", Done: int64(r.stats.Events), Total: total})
	}
	if err := journal.close(); err != nil {
		return err
	}
	if err := r.flushCache(ctx); err != nil {
		return err
	}
	r.w.deferSums = false
	if err := r.sumUpAll(ctx); err != nil {
		return err
	}
	if err := r.findRemoved(ctx); err != nil {
		return err
	}
	if err := r.tidy(ctx); err != nil {
		return err
	}
	r.opts.Progress(RebuildProgress{Phase: "swapping"})
	return r.swap(ctx)
}

// page applies one decoded page of the journal to the shadow, with the
// events the live mirror took meanwhile, then lets the live mirror take
// the events journaled since.
func (r *rebuilder) page(ctx context.Context, p decodedPage) error {
	for id, o := range p.changed {
		r.changes[id] = o
	}
	r.stats.Events += p.events
	r.stats.Ignored += p.ignored
	r.stats.Failed += p.failed
	r.stats.Erased += p.erased
	r.stats.Applied += len(p.apply)
	r.w.tick++
	if err := r.shadowWrite(ctx, append(r.carry, p.apply...)); err != nil {
		return err
	}
	r.carry = nil
	if r.w.size() > r.opts.CacheRows {
		if err := r.evict(ctx); err != nil {
			return err
		}
	}
	return r.stepLive(ctx)
}

// shadowWrite applies events to the shadow in one transaction: messages
// are written at once (most are named by one event, or a few close
// together), the other rows stay cached for the pages to come.
func (r *rebuilder) shadowWrite(ctx context.Context, events []*Event) error {
	if len(events) == 0 {
		return nil
	}
	return r.writeShadow(ctx, func(tx *store.Tx) error {
		if r.careful {
			w := newWork(tx.Shadow(), r.seq)
			w.deferSums = r.w.deferSums
			return r.project(tx, w, events)
		}
		if err := r.w.prefetch(events); err != nil {
			return err
		}
		for _, ev := range events {
			if err := r.w.apply(ev); err != nil {
				return err
			}
		}
		return r.flushMessages()
	})
}

// project applies events with w, which writes them at once, and adds what
// they moved to the shadow's counters; a failure is retried event by
// event, and an event the database refuses is kept as failed. (Careful
// mode.)
func (r *rebuilder) project(tx *store.Tx, w *work, events []*Event) error {
	err := tx.Savepoint("page", func() error { return safely(func() error { return w.project(events) }) })
	if err == nil {
		addCounts(r.counts, w.counts)
		return nil
	}
	if store.Transient(err) {
		return err
	}
	for _, ev := range events {
		one := newWork(tx.Shadow(), r.seq)
		one.deferSums = w.deferSums
		err := tx.Savepoint("event", func() error { return safely(func() error { return one.project([]*Event{ev}) }) })
		switch {
		case err == nil:
			addCounts(r.counts, one.counts)
		case store.Transient(err):
			return err
		default:
			reason := "could not be applied: " + err.Error()
			if o, ok := r.changes[ev.ID]; !ok || o.status != models.EventFailed {
				r.stats.Applied--
				r.stats.Failed++
			}
			r.changes[ev.ID] = outcome{models.EventFailed, &reason}
		}
	}
	return nil
}

// flushMessages writes the shadow's changed messages, and with them the
// sums of their conversations once those are no longer deferred.
func (r *rebuilder) flushMessages() error {
	if r.w.deferSums {
		if err := r.w.flushMessages(); err != nil {
			return err
		}
		r.w.dropSums()
		clear(r.w.messages)
		return nil
	}
	if err := r.w.flush(); err != nil {
		return err
	}
	r.w.forget()
	return nil
}

// writeShadow runs fn in a mirror transaction bound to the shadow, as the
// lease holder. Its commit need not survive a power loss (WriteLoose): the
// shadow is thrown away then.
func (r *rebuilder) writeShadow(ctx context.Context, fn func(*store.Tx) error) error {
	return r.writeShadowDurably(ctx, false, fn)
}

func (r *rebuilder) writeShadowDurably(ctx context.Context, durable bool, fn func(*store.Tx) error) error {
	if err := r.renew(ctx); err != nil {
		return err
	}
	write := r.db.WriteLoose
	if durable {
		write = r.db.Write
	}
	return write(ctx, func(tx *store.Tx) error {
		if held, err := tx.LeaseEpoch(); err != nil || held != r.epoch {
			if err != nil {
				return err
			}
			return store.Abort(store.ErrLeaseLost)
		}
		r.w.rebind(tx.Shadow())
		return fn(tx)
	})
}

// stepLive applies the events journaled since the last step to the live
// mirror, as the projector would, and keeps them to apply to the shadow.
func (r *rebuilder) stepLive(ctx context.Context) error {
	// Most pages find nothing journaled since: ask a reader first, rather
	// than take the write lock (and on SQLite pause after it) for nothing.
	// What it misses, the next page takes.
	if oldest, err := r.db.OldestPending(ctx); err != nil || oldest == nil {
		return err
	}
	for {
		var b *pendingBatch
		// Loose: should a power loss undo it, its events are pending again,
		// and this rebuild gone with its shadow.
		err := r.db.WriteLoose(ctx, func(tx *store.Tx) error {
			var err error
			b, err = projectPending(ctx, tx, r.epoch, r.opts.Batch, r.log)
			return err
		})
		if err != nil {
			return err
		}
		r.carry = append(r.carry, b.applied...)
		if len(b.taken) < r.opts.Batch || len(r.carry) >= r.opts.Page {
			return nil
		}
	}
}

// flushCache writes every cached row of the shadow, a page's worth to a
// transaction, and forgets them.
func (r *rebuilder) flushCache(ctx context.Context) error {
	if err := r.shadowWrite(ctx, r.carry); err != nil {
		return err
	}
	r.carry = nil
	if err := r.writeBack(ctx, dirtyIDs(r.w.contacts), dirtyIDs(r.w.conversations), dirtyIDs(r.w.runs)); err != nil {
		return err
	}
	r.w.forget()
	return nil
}

// evict writes and forgets the half of the cached rows that events named
// least recently.
func (r *rebuilder) evict(ctx context.Context) error {
	type use struct {
		kind, id string
		used     int
	}
	var all []use
	for id, e := range r.w.contacts {
		all = append(all, use{store.KindContact, id, e.used})
	}
	for id, e := range r.w.conversations {
		all = append(all, use{store.KindConversation, id, e.used})
	}
	for id, e := range r.w.runs {
		all = append(all, use{store.KindWorkflowRun, id, e.used})
	}
	slices.SortFunc(all, func(a, b use) int { return a.used - b.used })
	var contacts, conversations, runs []string
	for _, u := range all[:len(all)/2] {
		switch {
		case u.kind == store.KindContact && r.w.contacts[u.id].dirty:
			contacts = append(contacts, u.id)
		case u.kind == store.KindConversation && r.w.conversations[u.id].dirty:
			conversations = append(conversations, u.id)
		case u.kind == store.KindWorkflowRun && r.w.runs[u.id].dirty:
			runs = append(runs, u.id)
		}
	}
	slices.Sort(contacts)
	slices.Sort(conversations)
	slices.Sort(runs)
	if err := r.writeBack(ctx, contacts, conversations, runs); err != nil {
		return err
	}
	for _, u := range all[:len(all)/2] {
		switch u.kind {
		case store.KindContact:
			delete(r.w.contacts, u.id)
		case store.KindConversation:
			delete(r.w.conversations, u.id)
		case store.KindWorkflowRun:
			delete(r.w.runs, u.id)
		}
	}
	return nil
}

// writeBack writes the cached rows named, which must be dirty, a page's
// worth to a transaction.
func (r *rebuilder) writeBack(ctx context.Context, contacts, conversations, runs []string) error {
	for len(contacts)+len(conversations)+len(runs) > 0 {
		n := r.opts.Page
		var c, v, w []string
		c, contacts = cut(contacts, &n)
		v, conversations = cut(conversations, &n)
		w, runs = cut(runs, &n)
		if err := r.writeShadow(ctx, func(*store.Tx) error { return r.w.flushRows(c, v, w) }); err != nil {
			return err
		}
	}
	return nil
}

// cut takes up to *n ids off the front of ids and lowers *n by as many.
func cut(ids []string, n *int) (taken, rest []string) {
	k := min(*n, len(ids))
	*n -= k
	return ids[:k], ids[k:]
}

// sumUpAll sets every shadow conversation's message count and last
// message, a page of conversations to a transaction, applying the events
// the live mirror takes meanwhile as it goes.
func (r *rebuilder) sumUpAll(ctx context.Context) error {
	after := ""
	for done := int64(0); ; {
		var ids []string
		err := r.writeShadow(ctx, func(tx *store.Tx) error {
			var err error
			if ids, err = tx.Shadow().ConversationIDs(after, r.opts.Page); err != nil {
				return err
			}
			for _, id := range ids {
				r.w.recount[id] = true
			}
			return r.flushMessages()
		})
		if err != nil {
			return err
		}
		done += int64(len(ids))
		r.opts.Progress(RebuildProgress{Phase: "summing up", Done: done})
		if err := r.stepLive(ctx); err != nil {
			return err
		}
		if err := r.shadowWrite(ctx, r.carry); err != nil {
			return err
		}
		r.carry = nil
		if len(ids) < r.opts.Page {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// tidy vacuums the shadow on Postgres (store.TidyShadow), renewing the
// lease meanwhile: on a large journal the vacuum outlasts it, and a
// projector that took it over would make the swap fail.
func (r *rebuilder) tidy(ctx context.Context) error {
	lost, stop := keepLease(ctx, r.db, r.epoch, r.opts.LeaseTTL)
	err := r.db.TidyShadow(ctx)
	stop()
	select {
	case <-lost:
		return store.ErrLeaseLost
	default:
		return err
	}
}

// findRemoved notes the live rows the shadow lacks. The live mirror takes
// no event from here to the swap, so none can appear meanwhile.
func (r *rebuilder) findRemoved(ctx context.Context) error {
	r.removed = map[string][]string{}
	for _, kind := range store.FeedKinds {
		err := r.db.RemovedRows(ctx, kind, func(ids []string) error {
			r.removed[kind] = append(r.removed[kind], ids...)
			r.stats.Removed += len(ids)
			return r.renew(ctx)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// swap replaces the live mirror by the shadow, records the outcomes the
// rebuild changed and the rows it removed, and sets the mirror's counters
// to the shadow's, in one transaction.
func (r *rebuilder) swap(ctx context.Context) error {
	return r.writeShadowDurably(ctx, true, func(tx *store.Tx) error {
		ids := slices.Sorted(mapKeys(r.changes))
		current, err := tx.EventStatuses(ids)
		if err != nil {
			return err
		}
		counts := store.Counts{}
		for _, id := range ids {
			was, ok := current[id]
			o := r.changes[id]
			// Pending events are the projector's to decide, erased ones stay so.
			if !ok || was == o.status || was == models.EventErased || (was == models.EventPending && o.status == models.EventApplied) {
				continue
			}
			if err := tx.SetEventOutcome(id, o.status, o.reason); err != nil {
				return err
			}
			counts.Add(store.EventCount(was), -1)
			counts.Add(store.EventCount(o.status), 1)
		}
		for _, kind := range store.FeedKinds {
			if err := tx.RecordDeletions(kind, r.removed[kind], r.seq); err != nil {
				return err
			}
		}
		if err := tx.SetCounts(mirrorCounts(addCounts(store.Counts{}, r.counts, r.w.counts))); err != nil {
			return err
		}
		if err := tx.AddCounts(counts); err != nil {
			return err
		}
		return tx.SwapShadow(r.gen, r.seq)
	})
}

// mirrorCounts is every mirror counter, at the values c has.
func mirrorCounts(c store.Counts) store.Counts {
	out := store.Counts{store.CountContacts: c[store.CountContacts], store.CountWorkflowRuns: c[store.CountWorkflowRuns]}
	for _, s := range []string{models.ConversationOpen, models.ConversationResolved} {
		out[store.ConversationCount(s)] = c[store.ConversationCount(s)]
	}
	for _, s := range []string{models.MessageReceived, models.MessageSent, models.MessageFailed} {
		out[store.MessageCount(s)] = c[store.MessageCount(s)]
	}
	return out
}

// renew renews the lease when a fifth of its time has passed.
func (r *rebuilder) renew(ctx context.Context) error {
	if time.Since(r.renewed) < r.opts.LeaseTTL/5 {
		return nil
	}
	ok, err := r.db.RenewLease(ctx, r.epoch, r.opts.LeaseTTL)
	if err != nil {
		return err
	}
	if !ok {
		return store.ErrLeaseLost
	}
	r.renewed = time.Now()
	return nil
}

// decodedPage is a page of the journal decoded again.
type decodedPage struct {
	apply                           []*Event           // the events to apply
	changed                         map[string]outcome // events whose recorded outcome changes
	events, ignored, failed, erased int
}

// decodePage decodes a page of the journal again.
func decodePage(rows []models.Event) decodedPage {
	p := decodedPage{apply: make([]*Event, 0, len(rows)), changed: map[string]outcome{}, events: len(rows)}
	for i := range rows {
		row := &rows[i]
		if row.Status == models.EventErased {
			p.erased++
			continue
		}
		ev, status, reason := decodeJournaled(*row)
		switch status {
		case models.EventPending:
			p.apply = append(p.apply, ev)
			status, reason = models.EventApplied, ""
		case models.EventIgnored:
			p.ignored++
		case models.EventFailed:
			p.failed++
		}
		var why *string
		if reason != "" {
			why = &reason
		}
		if status != row.Status || !sameReason(why, row.Error) {
			p.changed[row.ID] = outcome{status, why}
		}
	}
	return p
}

// journalReader reads and decodes the journal in a goroutine of its own, a
// few pages ahead of the rebuild that applies them: on two cores the JSON
// decoding and the journal reads then run beside the mirror's writes.
type journalReader struct {
	pages  <-chan decodedPage
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
}

func readJournal(ctx context.Context, db *store.DB, page int) *journalReader {
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan decodedPage, 2)
	j := &journalReader{pages: pages, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		defer close(pages)
		j.err = db.JournalPages(ctx, page, func(rows []models.Event) error {
			select {
			case pages <- decodePage(rows):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return j
}

// close stops the reader and reports why it ended: nil only when it read
// the whole journal. Once pages is drained, that is how it ended.
func (j *journalReader) close() error {
	j.cancel()
	<-j.done
	return j.err
}

func sameReason(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
