package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Outcome is the webhook's answer for a verified event.
type Outcome string

// The outcomes of CONTRACT's answer table, besides errors.
const (
	Accepted    Outcome = "accepted"    // new, journaled and applied
	Duplicate   Outcome = "duplicate"   // the id is already journaled
	Ignored     Outcome = "ignored"     // unknown type: journaled, not applied
	Quarantined Outcome = "quarantined" // data unusable: journaled as failed
)

// ErrOverloaded means the commit queue is full; the sender should retry.
var ErrOverloaded = errors.New("too many events waiting to be committed")

// Result is what became of one delivery.
type Result struct {
	Outcome Outcome
	Type    string // the envelope's type
}

// Options tune a Syncer. Zero values take the defaults.
type Options struct {
	// MaxBatch caps how many deliveries one transaction commits (256).
	MaxBatch int
	// QueueSize caps how many deliveries may wait for the writer (4096);
	// past it Ingest answers ErrOverloaded at once instead of growing.
	QueueSize int
	// CommitTimeout bounds one batch's commit, retries included (8 s), so
	// every answer stays inside BuzzBip's 10 second window.
	CommitTimeout time.Duration
	// RebuildBatch is how many journal rows a rebuild applies as one unit
	// of work (2000).
	RebuildBatch int
	// RebuildCacheRows bounds the contacts, conversations and workflow runs
	// a rebuild keeps in memory between pages (400,000, about 650 MiB at
	// most); fewer rows cost speed, not correctness.
	RebuildCacheRows int
	// JournalOnly journals events without applying them. It exists only as
	// the baseline of the ingest benchmark: such a database is no mirror.
	JournalOnly bool
}

// Syncer journals verified events and projects them into the mirror.
//
// Deliveries are committed by one writer goroutine in groups: while a
// transaction commits, the next deliveries queue up, and the writer commits
// all of them in the next transaction, one fsync for many events. Each
// delivery still gets its own answer, and only after its transaction
// committed.
type Syncer struct {
	db         *store.DB
	log        *slog.Logger
	opts       Options
	duplicates atomic.Int64

	// The writer's work, for CommitStats.
	batches, batched atomic.Int64
	busy             atomic.Int64 // nanoseconds

	mu      stdsync.RWMutex // guards closed and sending on queue
	closed  bool
	queue   chan *request
	stopped chan struct{}
}

type request struct {
	env    *Envelope
	ev     *Event // nil unless status is applied
	status models.EventStatus
	reason *string
	ctx    context.Context
	done   chan reply
}

type reply struct {
	res Result
	err error
}

// NewSyncer starts a Syncer writing to db; Close stops it.
func NewSyncer(db *store.DB, log *slog.Logger, opts Options) *Syncer {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.RebuildBatch <= 0 {
		opts.RebuildBatch = 2000
	}
	if opts.RebuildCacheRows <= 0 {
		opts.RebuildCacheRows = 400_000
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 8 * time.Second
	}
	s := &Syncer{
		db: db, log: log, opts: opts,
		queue: make(chan *request, opts.QueueSize), stopped: make(chan struct{}),
	}
	go s.writer()
	return s
}

// Close stops taking deliveries, commits those already queued, and returns
// when the writer has finished.
func (s *Syncer) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	<-s.stopped
}

// DuplicatesRejected counts deliveries this instance answered "duplicate"
// since it started.
func (s *Syncer) DuplicatesRejected() int64 { return s.duplicates.Load() }

// CommitStats is the group commit's work since the Syncer started.
type CommitStats struct {
	Batches    int64         // batches the writer took, each committed in one transaction (or failed)
	Deliveries int64         // deliveries in them; over Batches, the mean batch
	Busy       time.Duration // time the writer spent on them (counted once a batch is done); near the wall time, it is saturated
}

// CommitStats reports the writer's work so far.
func (s *Syncer) CommitStats() CommitStats {
	return CommitStats{Batches: s.batches.Load(), Deliveries: s.batched.Load(), Busy: time.Duration(s.busy.Load())}
}

// classify decides what to do with an envelope: apply its decoded event, or
// journal it as ignored or failed with a reason.
func classify(env *Envelope) (*Event, models.EventStatus, *string) {
	ev, err := Decode(env)
	var dataErr *DataError
	switch {
	case err == nil:
		return ev, models.EventApplied, nil
	case errors.As(err, &dataErr):
		reason := dataErr.Error()
		return nil, models.EventFailed, &reason
	default:
		return nil, models.EventIgnored, nil
	}
}

var outcomes = map[models.EventStatus]Outcome{
	models.EventApplied: Accepted,
	models.EventIgnored: Ignored,
	models.EventFailed:  Quarantined,
}

// Ingest journals and applies one signed body and returns once it is
// committed. A body that is not a valid envelope is ErrBadEnvelope and
// nothing is stored. ErrOverloaded, a context error or a storage error mean
// the sender should retry; the event may then already be committed, and the
// retry is a duplicate.
func (s *Syncer) Ingest(ctx context.Context, raw []byte) (Result, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return Result{}, err
	}
	ev, status, reason := classify(env)
	req := &request{env: env, ev: ev, status: status, reason: reason, ctx: ctx, done: make(chan reply, 1)}
	if err := s.enqueue(req); err != nil {
		return Result{Type: env.Type}, err
	}
	select {
	case r := <-req.done:
		if r.err == nil && r.res.Outcome == Duplicate {
			s.duplicates.Add(1)
		}
		return r.res, r.err
	case <-ctx.Done():
		return Result{Type: env.Type}, ctx.Err()
	}
}

func (s *Syncer) enqueue(req *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%w: shutting down", store.ErrUnavailable)
	}
	select {
	case s.queue <- req:
		return nil
	default:
		return ErrOverloaded
	}
}

// writer commits what has queued up, batch after batch, until Close.
//
// It keeps one OS thread to itself (the thread ends with it). Unlocked, the
// runtime hands its P to the HTTP goroutines during every long SQLite call
// and resumes it on whichever thread it finds next, so the one goroutine
// every answer waits for wandered between threads and cores: perf stat
// counted 1,070 CPU migrations and 77,542 context switches in the server in
// 10 s of ingest, against 327 and 49,278 locked. bench ingest, 30 s, three
// interleaved pairs: SQLite 3,895, 3,078, 3,233 -> 4,347, 4,001, 4,191
// events/s. On Postgres, whose writer mostly waits on the network, 60 s
// runs showed no difference either way (see BENCHMARKS.md).
func (s *Syncer) writer() {
	runtime.LockOSThread()
	defer close(s.stopped)
	batch := make([]*request, 0, s.opts.MaxBatch)
	for first := range s.queue {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.batches.Add(1) // before the answers, so that a sender who has one sees its batch counted
		s.batched.Add(int64(len(batch)))
		start := time.Now()
		s.commit(batch)
		s.busy.Add(int64(time.Since(start)))
	}
}

// commit writes a batch in one transaction. Should that fail while the
// database answers, one event may be to blame (a value the database
// refuses): each is then committed on its own, so the others still succeed.
func (s *Syncer) commit(batch []*request) {
	// A panic here would stop the only writer and leave every later
	// delivery waiting; answer this batch with an error and go on.
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("writer panicked; batch answered 503", "panic", p)
			for _, r := range batch {
				select {
				case r.done <- reply{res: Result{Type: r.env.Type}, err: fmt.Errorf("%w: writer failed", store.ErrUnavailable)}:
				default: // already answered
				}
			}
		}
	}()
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- reply{err: err} // the sender gave up; nothing was written
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CommitTimeout)
	defer cancel()
	results, err := s.write(ctx, live, false)
	if err == nil {
		for i, r := range live {
			r.done <- reply{res: results[i]}
		}
		return
	}
	// A lone event is retried too: only in its savepoint can a refused one
	// be kept as failed instead of being refused again at every resend.
	if s.db.Ping(ctx) != nil {
		s.log.Error("commit failed", "events", len(live), "err", err)
		for _, r := range live {
			r.done <- reply{res: Result{Type: r.env.Type}, err: err}
		}
		return
	}
	s.log.Warn("commit failed; committing its events one by one", "events", len(live), "err", err)
	for _, r := range live {
		results, err := s.write(ctx, []*request{r}, true)
		if err != nil {
			r.done <- reply{res: Result{Type: r.env.Type}, err: err}
			continue
		}
		r.done <- reply{res: results[0]}
	}
}

// write journals reqs and applies the new ones in one transaction. Of
// several copies of one event, in the batch or in the journal already, the
// journal's unique key admits exactly one. With isolate, each event's
// projection runs in a savepoint and one that the database refuses is kept
// as failed instead of failing the transaction.
func (s *Syncer) write(ctx context.Context, reqs []*request, isolate bool) ([]Result, error) {
	results := make([]Result, len(reqs))
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		rows := make([]models.Event, 0, len(reqs))
		var applicable []*Event
		for i, r := range reqs {
			results[i] = Result{Type: r.env.Type, Outcome: Duplicate}
			rows = append(rows, models.Event{
				ID: r.env.ID, Type: r.env.Type, Status: r.status, Error: r.reason,
				CreatedAt: models.NewTime(r.env.CreatedAt), ReceivedAt: tx.Now(), Payload: r.env.Raw,
			})
			if r.status == models.EventApplied {
				applicable = append(applicable, r.ev)
			}
		}
		// The rows the batch names are read before its events are known to
		// be new, so that on Postgres the reads go with the journal insert
		// in one round trip; a duplicate's rows are read for nothing.
		w := newWork(tx)
		fetched := func() error { return nil }
		if !isolate && !s.opts.JournalOnly {
			fetched = w.fetch(applicable)
		}
		inserted, err := tx.InsertEvents(rows)
		if err != nil {
			return err
		}
		if err := fetched(); err != nil {
			return err
		}
		var events []*Event
		var applied []int
		for i, r := range reqs {
			if !inserted[r.env.ID] {
				continue
			}
			delete(inserted, r.env.ID) // later copies in this batch are duplicates
			results[i].Outcome = outcomes[r.status]
			if r.status == models.EventApplied && !s.opts.JournalOnly {
				events = append(events, r.ev)
				applied = append(applied, i)
			}
		}
		if len(events) == 0 {
			return nil
		}
		if !isolate {
			return w.project(events)
		}
		for k, ev := range events {
			status, err := s.applyIsolated(ctx, tx, ev)
			if err != nil {
				return err
			}
			results[applied[k]].Outcome = outcomes[status]
		}
		return nil
	})
	return results, err
}

// project applies events to the mirror in one unit of work.
func (s *Syncer) project(tx *store.Tx, events []*Event) error {
	return newWork(tx).project(events)
}

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

// applyIsolated projects ev inside a savepoint. Should the projection fail
// while the database still answers, the event would fail the same way on
// every retry; it is kept as failed, visible under /v1/events?status=failed,
// and a later `rebuild` retries it. When the savepoint cannot be rolled back
// the database itself is gone and the error is returned.
func (s *Syncer) applyIsolated(ctx context.Context, tx *store.Tx, ev *Event) (models.EventStatus, error) {
	var applyErr error
	err := tx.Savepoint("apply", func() error {
		applyErr = s.project(tx, []*Event{ev})
		if applyErr == nil {
			applyErr = tx.Sync() // on Postgres the writes may still wait to be sent
		}
		return applyErr
	})
	if err == nil {
		return models.EventApplied, nil
	}
	if !errors.Is(err, applyErr) || ctx.Err() != nil {
		return "", err
	}
	s.log.Error("event could not be applied; kept as failed", "event", ev.ID, "type", ev.Type, "err", applyErr)
	reason := "could not be applied: " + applyErr.Error()
	if err := tx.SetEventOutcome(ev.ID, models.EventFailed, &reason); err != nil {
		return "", err
	}
	return models.EventFailed, nil
}
