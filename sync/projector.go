package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// ProjectorOptions tune a Projector. Zero values take the defaults.
type ProjectorOptions struct {
	// Batch is the most pending events one transaction applies (1000).
	Batch int
	// Poll is how often the lease holder looks for events that other
	// instances journaled, when nothing woke it (100 ms).
	Poll time.Duration
	// LeaseTTL is how long the lease lasts unless renewed (5 s); the
	// holder renews it every fifth of that. When the holder dies, another
	// instance takes over within LeaseTTL plus Standby.
	LeaseTTL time.Duration
	// Standby is how often an instance without the lease tries to take it (1 s).
	Standby time.Duration
	// StaleAfter is the age of the oldest pending event past which the
	// projector warns (10 s).
	StaleAfter time.Duration
	// Holder names this projector in the lease; host and process by default.
	Holder string
	// Observe hears of every transaction that applied events (metrics).
	Observe func(StepStats)
	// Active reports whether deliveries are coming in, and Load the part
	// of the time the journal's writer works on them (see Journal.Load).
	// The webhook's answers come first: while deliveries come, each of the
	// projector's transactions writes for about StepBudget at most (a
	// third of it when the journal is near its limit), and the projector
	// leaves the journal the time it needs and a margin. On SQLite, where
	// the two share the only write lock, after a step it rests so that
	// its part of the lock's time stays below 0.95 - Load (but at least a
	// tenth, so that the mirror never stands still); the planning before
	// its write takes no lock and counts as rest (counting it as work left
	// the oldest pending event 5-12 s old at a steady 1,800 deliveries/s,
	// against 0.14-0.26 s; at the maximum the mirror now keeps up too, and
	// the webhook gets less of the machine). On Postgres they take no lock
	// the other needs, and the journal writer's busy time is mostly waiting
	// for the server (it reads 85 % at half the maximum rate), so the
	// projector does not rest: resting as on SQLite, or only past 80 %
	// busy, left it so little time at half the maximum rate that the
	// oldest pending event aged 20 s in 30 s. Not resting, and planning
	// each batch while the one before is written (see step), keeps the
	// oldest pending event under 250 ms there and, at the maximum rate,
	// applies seven to nine tenths of what arrives, for 0.51-0.65 of the
	// journal-only server's rate on a machine whose two cores also run
	// Postgres (BENCHMARKS.md). On SQLite it plans ahead only when
	// deliveries stop: while they come, the core that takes is the
	// webhook's. When deliveries stop it applies full batches back to
	// back, catching up on what it left.
	Active func() bool
	Load   func() float64
	// StepBudget is how long a transaction may write while deliveries
	// come in (25 ms).
	StepBudget time.Duration
}

// StepStats is what one projector transaction did.
type StepStats struct {
	Events  int             // pending events it took
	Applied int             // of those, applied to the mirror
	Failed  int             // of those, marked failed
	Took    time.Duration   // the whole step: reading, applying, writing
	Held    time.Duration   // of which the write transaction, commit included
	Lags    []time.Duration // for each applied event, from its receipt to the commit
}

// Projector applies journaled events to the mirror, in large batches,
// after the webhook has answered them: the journal is the queue. One
// projector per database works at a time, the holder of the lease (see
// store.AcquireLease); the others stand by to take over. The projection
// is order-independent, so events are applied in whatever batches they
// come.
type Projector struct {
	db   *store.DB
	log  *slog.Logger
	opts ProjectorOptions
	wake chan struct{}

	holding  atomic.Bool
	epoch    int64         // the lease's, while holding
	perEvent time.Duration // how long a step writes for each event, on average lately
	next     *plan         // planned while the last batch was written, for the next step
}

// NewProjector returns a projector; Run starts it.
func NewProjector(db *store.DB, log *slog.Logger, opts ProjectorOptions) *Projector {
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 5 * time.Second
	}
	if opts.Standby <= 0 {
		opts.Standby = time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 10 * time.Second
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder("serve")
	}
	if opts.Observe == nil {
		opts.Observe = func(StepStats) {}
	}
	if opts.Active == nil {
		opts.Active = func() bool { return false }
	}
	if opts.Load == nil {
		opts.Load = func() float64 { return 0 }
	}
	if opts.StepBudget <= 0 {
		opts.StepBudget = 25 * time.Millisecond
	}
	return &Projector{db: db, log: log, opts: opts, wake: make(chan struct{}, 1)}
}

// defaultHolder names a lease holder by what it is, host and process.
func defaultHolder(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s %s:%d", what, host, os.Getpid())
}

// Wake tells the projector that events were journaled. It never blocks.
func (p *Projector) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Holding reports whether this projector holds the lease now.
func (p *Projector) Holding() bool { return p.holding.Load() }

// Run projects until ctx ends, then gives the lease up.
func (p *Projector) Run(ctx context.Context) {
	var lastRenew time.Time
	backoff := time.Duration(0)
	failures := ratelog.New(p.log, time.Minute)
	stale := &staleWatch{db: p.db, log: p.log, after: p.opts.StaleAfter}
	defer func() {
		if p.holding.Load() {
			release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := p.db.ReleaseLease(release, p.epoch); err != nil {
				p.log.Warn("projector: could not give the lease up; another instance takes over when it lapses", "err", err)
			}
			p.holding.Store(false)
		}
	}()
	for ctx.Err() == nil {
		stale.check(ctx)
		if !p.holding.Load() {
			epoch, ok, err := p.db.AcquireLease(ctx, p.opts.Holder, p.opts.LeaseTTL, false)
			if err != nil {
				failures.Log(ctx, slog.LevelError, "lease", "projector: could not read the lease", "err", err)
			}
			if !ok {
				p.sleep(ctx, p.opts.Standby, false)
				continue
			}
			p.epoch, lastRenew = epoch, time.Now()
			p.holding.Store(true)
			p.log.Info("projector: took the lease; applying journaled events", "epoch", epoch)
		}
		if time.Since(lastRenew) >= p.opts.LeaseTTL/5 {
			ok, err := p.db.RenewLease(ctx, p.epoch, p.opts.LeaseTTL)
			switch {
			case err != nil:
				failures.Log(ctx, slog.LevelError, "lease", "projector: could not renew the lease", "err", err)
			case !ok:
				p.lost()
				continue
			default:
				lastRenew = time.Now()
			}
		}
		active := p.opts.Active()
		share := 1.0
		if p.db.Driver() == store.DriverSQLite {
			share = min(1, max(0.1, 0.95-p.opts.Load()))
		}
		limit := p.opts.Batch
		if active {
			limit = p.paced(share)
		}
		// Planning the next batch beside a write takes a core the
		// deliveries would use: not while the projector rests for them.
		st, err := p.step(ctx, limit, share == 1 || !active)
		switch {
		case ctx.Err() != nil:
			continue // stopping: the loop ends
		case errors.Is(err, store.ErrLeaseLost):
			p.lost()
			continue
		case err != nil:
			failures.Log(ctx, slog.LevelError, "batch", "projector: a batch failed; trying again", "err", err)
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			p.sleep(ctx, backoff, false)
			continue
		}
		backoff = 0
		failures.Recovered(ctx, "batch", "projector: batches succeed again")
		if st.Events > 0 {
			p.perEvent = (3*p.perEvent + st.Held/time.Duration(st.Events)) / 4
		}
		switch {
		case active && st.Events > 0:
			if rest := restAfter(st, share); rest > 0 {
				p.sleep(ctx, rest, false)
			}
		case st.Events == 0:
			p.sleep(ctx, p.opts.Poll, true)
		}
	}
}

// restAfter is how long the projector rests after step st so that its
// part of the write lock's time stays at share: the planning before the
// write takes no lock, so it counts as rest.
func restAfter(st StepStats, share float64) time.Duration {
	if share >= 1 {
		return 0
	}
	return max(0, time.Duration(float64(st.Held)/share)-st.Took)
}

// paced is how many events a step may take while deliveries come in: as
// many as it writes, by the recent cost of an event, in its budget, which
// shrinks with its share of the time (a delivery that arrives during a
// step waits for it).
func (p *Projector) paced(share float64) int {
	if p.perEvent <= 0 {
		return min(p.opts.Batch, 100)
	}
	budget := p.opts.StepBudget
	if share < 0.25 { // the journal is near its limit: short steps
		budget /= 3
	}
	return min(p.opts.Batch, max(16, int(budget/p.perEvent)))
}

// keepLease renews the lease of epoch every ttl/5 until stop is called,
// for work that holds it longer than it lasts without a write of its own
// in between (an erasure's reads of the journal, a rebuild's vacuum). lost
// is closed if the lease was taken over meanwhile.
func keepLease(ctx context.Context, db *store.DB, epoch int64, ttl time.Duration) (lost <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	taken, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 5)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if ok, err := db.RenewLease(ctx, epoch, ttl); err == nil && !ok {
					close(taken)
					return
				}
			}
		}
	}()
	return taken, func() { cancel(); <-done }
}

func (p *Projector) lost() {
	p.holding.Store(false)
	p.next = nil
	p.log.Warn("projector: the lease was taken over (another instance, a rebuild or an erasure); standing by", "epoch", p.epoch)
}

// sleep waits for d, or with wakeable for the next Wake, or for ctx.
func (p *Projector) sleep(ctx context.Context, d time.Duration, wakeable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	wake := p.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// Step applies up to Batch pending events in one transaction, as the
// lease holder; it fails with store.ErrLeaseLost once the lease is
// another's. While it writes a full batch it plans the next one, which
// the next Step writes (see step).
func (p *Projector) Step(ctx context.Context) (StepStats, error) {
	return p.step(ctx, p.opts.Batch, true)
}

// step applies up to limit pending events in one write transaction: the
// batch planned ahead by the step before, if any, or one it plans now.
// With ahead, while that transaction writes a full batch, it plans the
// next one beside it: the write is mostly the database's work and the
// planning mostly the server's and a reader's, so on two cores a
// backlog goes down faster (BENCHMARKS.md). Whatever fails, the batch is
// planned again.
func (p *Projector) step(ctx context.Context, limit int, ahead bool) (StepStats, error) {
	start := time.Now()
	pl, err := p.next, error(nil)
	p.next = nil
	if pl == nil {
		pl, err = p.plan(ctx, limit, nil)
	}
	switch {
	case err != nil:
	case len(pl.events) == 0:
	case ahead && pl.more:
		busy := pl.work.held()
		done := make(chan error, 1)
		go func() { done <- p.write(ctx, pl) }()
		next, planErr := p.plan(ctx, limit, &priorBatch{pl, busy})
		if err = <-done; err == nil && planErr == nil && next.follows(pl) {
			p.next = next
		}
	default:
		err = p.write(ctx, pl)
	}
	var b *pendingBatch
	if pl != nil {
		b = pl.batch
	}
	if errors.Is(err, errReplan) {
		var began time.Time
		err = p.db.WriteLoose(ctx, func(tx *store.Tx) error {
			began = time.Now()
			var err error
			b, err = projectPending(ctx, tx, p.epoch, limit, p.log)
			return err
		})
		if b != nil {
			b.held = time.Since(began)
		}
	}
	if err != nil {
		return StepStats{}, err
	}
	st := b.stats(time.Since(start), p.db.Now())
	if st.Events > 0 {
		p.opts.Observe(st)
	}
	return st, nil
}

// ErrLeaseBusy means another projector holds the lease.
var ErrLeaseBusy = errors.New("sync: another projector holds the lease")

// Drain applies pending events until none is left, taking the lease for
// the time it runs if nobody holds it. Tests and tools use it to see the
// effect of what they journaled.
func (p *Projector) Drain(ctx context.Context) error {
	if !p.holding.Load() {
		epoch, ok, err := p.db.AcquireLease(ctx, p.opts.Holder, p.opts.LeaseTTL, false)
		if err != nil {
			return err
		}
		if !ok {
			return ErrLeaseBusy
		}
		p.epoch = epoch
		defer func() { _ = p.db.ReleaseLease(context.WithoutCancel(ctx), epoch) }()
	}
	defer func() { p.next = nil }()
	for {
		st, err := p.Step(ctx)
		if err != nil {
			return err
		}
		if st.Events == 0 {
			return nil
		}
	}
}

// errReplan means a planned batch could not be committed as planned, and
// projectPending must do it inside its transaction.
var errReplan = errors.New("sync: the planned batch must be done again in its transaction")

// plan is a batch of pending events applied in memory to the rows they
// name, as a read snapshot holds them, for a write transaction to write:
// so that the write transaction (on SQLite the only write lock, which
// deliveries wait for) holds the writes alone.
type plan struct {
	batch  *pendingBatch
	work   *work
	events []*Event
	more   bool      // the snapshot held more pending events than the batch took
	read   *store.Tx // the snapshot, whose knowledge of stored rows the write adopts
	basis  int64     // the last change-feed position the snapshot saw: the write must take the next
}

// priorBatch is a plan being written while the next is planned, with the
// rows it held when its write began.
type priorBatch struct {
	plan *plan
	busy rowSet
}

// plan reads up to limit pending events and the rows they name in a read
// snapshot and applies them in memory. With prior, a batch being written
// meanwhile, it leaves out prior's events and those that name a row prior
// holds (they wait for a later batch), so that what it read of the mirror
// still holds once prior commits (see follows). Anything else, a refused
// value or a projection bug included, is errReplan: projectPending does
// the batch again, carefully.
func (p *Projector) plan(ctx context.Context, limit int, prior *priorBatch) (*plan, error) {
	skip := map[string]bool{}
	if prior != nil {
		for _, ev := range prior.plan.events {
			skip[ev.ID] = true
		}
	}
	pl := &plan{batch: &pendingBatch{}}
	err := p.db.ReadSnapshot(ctx, func(tx *store.Tx) error {
		if epoch, _ := tx.LeaseEpoch(); epoch != p.epoch {
			return store.Abort(store.ErrLeaseLost)
		}
		// prior's events may still be pending in this snapshot: it reads
		// them again and skips them (the pending query is about 2 % of
		// Postgres's statement time in a catch-up).
		rows, err := tx.PendingEvents(limit + len(skip))
		if err != nil {
			return err
		}
		pl.more = len(rows) == limit+len(skip)
		for _, row := range rows {
			if skip[row.ID] {
				continue
			}
			if len(pl.events) == limit {
				break
			}
			ev, status, _ := decodeJournaled(row)
			if status != models.EventPending {
				return errReplan // an outcome to record: the careful path does that
			}
			if prior != nil && prior.busy.names(ev) {
				continue
			}
			pl.batch.taken = append(pl.batch.taken, row)
			pl.events = append(pl.events, ev)
		}
		if len(pl.events) == 0 {
			return nil
		}
		pl.work = liveWork(tx, 0)
		if err := safely(func() error {
			if err := pl.work.prefetch(pl.events); err != nil {
				return err
			}
			for _, ev := range pl.events {
				if err := pl.work.apply(ev); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return errReplan
		}
		pl.read, pl.basis = tx, tx.FeedSeq()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pl, nil
}

// follows reports whether pl, planned while prior was written, still
// holds now that prior committed: it shares no row with prior (prior's
// write may have loaded more than it held when it began), and prior's
// was the only write since pl's snapshot. Its write must then take the
// position after prior's.
func (pl *plan) follows(prior *plan) bool {
	if len(pl.events) == 0 || pl.work.shares(prior.work.held()) {
		return false
	}
	after := prior.basis + 1 // prior's position
	if pl.basis != prior.basis && pl.basis != after {
		return false
	}
	pl.basis = after
	return true
}

// write writes a plan in a transaction that checks that no other mirror
// writer came in since its snapshot (its change-feed position is the
// plan's basis's next). Whatever else fails, the plan is spent.
func (p *Projector) write(ctx context.Context, pl *plan) error {
	var began time.Time
	defer func() {
		if !began.IsZero() {
			pl.batch.held = time.Since(began)
		}
	}()
	// Loose: should a power loss undo the commit, its events are pending
	// again, and the projector applies them again.
	err := p.db.WriteLoose(ctx, func(tx *store.Tx) error {
		began = time.Now()
		held, err := tx.LeaseEpoch()
		if err != nil {
			return err
		}
		if held != p.epoch {
			return store.Abort(store.ErrLeaseLost)
		}
		if tx.Seq() != pl.basis+1 {
			return store.Abort(errReplan) // another writer changed the mirror since the snapshot
		}
		tx.Adopt(pl.read)
		w := pl.work
		w.rebind(tx.Live())
		w.seq = tx.Seq()
		if err := safely(w.flush); err != nil {
			if store.Transient(err) {
				return err
			}
			return store.Abort(errReplan)
		}
		ids := make([]string, len(pl.events))
		for i, ev := range pl.events {
			ids[i] = ev.ID
		}
		if err := tx.MarkApplied(ids); err != nil {
			return err
		}
		counts := store.Counts{}
		counts.Add(store.EventCount(models.EventPending), -int64(len(ids)))
		counts.Add(store.EventCount(models.EventApplied), int64(len(ids)))
		return tx.AddCounts(addCounts(counts, w.counts))
	})
	switch {
	case err == nil:
		pl.batch.applied = pl.events
		return nil
	case errors.Is(err, store.ErrLeaseLost), errors.Is(err, errReplan), store.Transient(err):
		return err
	default:
		return errReplan // refused at the commit (Postgres sends the writes then)
	}
}

// pendingBatch is what projectPending did in one transaction.
type pendingBatch struct {
	taken   []models.Event // the pending rows it read
	applied []*Event       // applied to the live mirror, in this transaction
	failed  int
	held    time.Duration // the write transaction
}

func (b *pendingBatch) stats(took time.Duration, now time.Time) StepStats {
	st := StepStats{Events: len(b.taken), Applied: len(b.applied), Failed: b.failed, Took: took, Held: b.held}
	for _, ev := range b.applied {
		st.Lags = append(st.Lags, now.Sub(ev.received))
	}
	return st
}

// projectPending applies up to limit pending events to the live mirror in
// tx, as the holder of the lease's epoch, and records what became of
// each. An event whose projection fails (its values refused, or a bug) is
// marked failed with the reason and never holds up the others; a failure
// of the database itself fails the transaction, to be tried again.
func projectPending(ctx context.Context, tx *store.Tx, epoch int64, limit int, log *slog.Logger) (*pendingBatch, error) {
	held, err := tx.LeaseEpoch()
	if err != nil {
		return nil, err
	}
	if held != epoch {
		return nil, store.Abort(store.ErrLeaseLost)
	}
	rows, err := tx.PendingEvents(limit)
	if err != nil {
		return nil, err
	}
	b := &pendingBatch{taken: rows}
	if len(rows) == 0 {
		return b, nil
	}
	counts := store.Counts{}
	counts.Add(store.EventCount(models.EventPending), -int64(len(rows)))
	outcome := func(id string, status models.EventStatus, reason string) error {
		counts.Add(store.EventCount(status), 1)
		if status == models.EventFailed {
			b.failed++
		}
		return tx.SetEventOutcome(id, status, &reason)
	}
	var events []*Event
	for _, row := range rows {
		ev, status, reason := decodeJournaled(row)
		if status != models.EventPending {
			if err := outcome(row.ID, status, reason); err != nil {
				return nil, err
			}
			continue
		}
		events = append(events, ev)
	}

	seq := tx.Seq()
	w := liveWork(tx, seq)
	err = tx.Savepoint("batch", func() error { return safely(func() error { return w.project(events) }) })
	switch {
	case err == nil:
		b.applied = events
		addCounts(counts, w.counts)
	case store.Transient(err) || ctx.Err() != nil:
		return nil, err
	default:
		// One event may be to blame: each goes alone, in a savepoint.
		log.Warn("projector: a batch failed; applying its events one by one", "events", len(events), "err", err)
		for _, ev := range events {
			one := liveWork(tx, seq)
			err := tx.Savepoint("event", func() error { return safely(func() error { return one.project([]*Event{ev}) }) })
			switch {
			case err == nil:
				b.applied = append(b.applied, ev)
				addCounts(counts, one.counts)
			case store.Transient(err) || ctx.Err() != nil:
				return nil, err
			default:
				log.Error("projector: event could not be applied; kept as failed", "event", ev.ID, "type", ev.Type, "err", err)
				if err := outcome(ev.ID, models.EventFailed, "could not be applied: "+err.Error()); err != nil {
					return nil, err
				}
			}
		}
	}
	ids := make([]string, len(b.applied))
	for i, ev := range b.applied {
		ids[i] = ev.ID
	}
	if err := tx.MarkApplied(ids); err != nil {
		return nil, err
	}
	counts.Add(store.EventCount(models.EventApplied), int64(len(ids)))
	return b, tx.AddCounts(counts)
}

// liveWork is the projector's unit of work on the live mirror, whose
// conversations' sums count every stored message (see work.addSums).
func liveWork(tx *store.Tx, seq int64) *work {
	w := newWork(tx.Live(), seq)
	w.addSums = true
	return w
}

// addCounts adds every one of from into to and returns to.
func addCounts(to store.Counts, from ...store.Counts) store.Counts {
	for _, f := range from {
		for name, n := range f {
			to.Add(name, n)
		}
	}
	return to
}

// decodeJournaled decodes a journaled event again, as of its receipt. A
// pending event decodes as it did when it was journaled, unless this
// buzzmirror decides differently from the one that journaled it.
func decodeJournaled(row models.Event) (*Event, models.EventStatus, string) {
	env, err := ParseEnvelope(row.Payload)
	if err != nil {
		return nil, models.EventFailed, "the journaled body no longer parses: " + err.Error()
	}
	ev, status, reason := classify(env, row.ReceivedAt.Time)
	if ev != nil {
		ev.received = row.ReceivedAt.Time
	}
	if reason != nil {
		return ev, status, *reason
	}
	return ev, status, ""
}

// safely runs fn and turns a panic into an error: a projection bug fails
// the event that met it, not the projector.
func safely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("projection panicked: %v", p)
		}
	}()
	return fn()
}

// staleWatch warns once when the oldest pending event gets older than
// after, and says so when it is no longer.
type staleWatch struct {
	db      *store.DB
	log     *slog.Logger
	after   time.Duration
	last    time.Time
	warning bool
}

func (s *staleWatch) check(ctx context.Context) {
	if time.Since(s.last) < time.Second {
		return
	}
	s.last = time.Now()
	oldest, err := s.db.OldestPending(ctx)
	if err != nil {
		return // the projector's own errors say why
	}
	age := time.Duration(0)
	if oldest != nil {
		age = s.db.Now().Sub(oldest.Time)
	}
	switch {
	case age > s.after && !s.warning:
		s.warning = true
		s.log.Warn("projector: events wait to be applied", "oldest_age", age.Round(time.Millisecond).String(), "threshold", s.after.String())
	case age <= s.after && s.warning:
		s.warning = false
		s.log.Info("projector: caught up; no event waits longer than the threshold", "threshold", s.after.String())
	}
}
