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

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
	"github.com/buzzmirror/buzzmirror/models"
	"github.com/buzzmirror/buzzmirror/store"
)

// Outcome is the webhook's answer for a verified event.
type Outcome string

// The outcomes of CONTRACT's answer table, besides errors.
const (
	Accepted    Outcome = "accepted"    // new: journaled (pending, or erased on arrival)
	Duplicate   Outcome = "duplicate"   // the id is already journaled
	Ignored     Outcome = "ignored"     // unknown type: journaled, not applied
	Quarantined Outcome = "quarantined" // data unusable: journaled as failed
)

// ErrOverloaded means the commit queue is full; the sender should retry.
var ErrOverloaded = errors.New("too many events waiting to be committed")

// Result is what became of one delivery.
type Result struct {
	Outcome Outcome
	ID      string // the envelope's id
	Type    string // the envelope's type
	Reason  string // why a quarantined event was quarantined
}

// JournalOptions tune a Journal. Zero values take the defaults.
type JournalOptions struct {
	// MaxBatch caps how many deliveries one transaction commits (256).
	MaxBatch int
	// QueueSize caps how many deliveries may wait for the writer (4096);
	// past it Ingest answers ErrOverloaded at once instead of growing.
	QueueSize int
	// CommitTimeout bounds one batch's commit, retries included (8 s), so
	// every answer stays inside BuzzBip's 10 second window.
	CommitTimeout time.Duration
	// RetainBodies, when set, journals a message event dated longer ago
	// than it without data.body (see Sweeper).
	RetainBodies time.Duration
	// Committed is called after a commit that journaled pending events,
	// from the writer: it must not block (it wakes the projector).
	Committed func()
}

// Journal writes verified events to the journal, the durable queue the
// projector applies to the mirror. Nothing of the mirror is read or
// written here: an answer waits for its event's journal row only.
//
// Deliveries are committed by one writer goroutine in groups: while a
// transaction commits, the next deliveries queue up, and the writer commits
// all of them in the next transaction, one fsync for many events. Each
// delivery still gets its own answer, and only after its transaction
// committed.
type Journal struct {
	db         *store.DB
	log        *slog.Logger
	failures   *ratelog.Limiter
	opts       JournalOptions
	duplicates atomic.Int64

	// The writer's work, for CommitStats.
	batches, batched atomic.Int64
	busy             atomic.Int64 // nanoseconds

	mu       stdsync.RWMutex // guards closed and sending on queue
	closed   bool
	queue    chan *request
	stopped  chan struct{}
	inFlight atomic.Int64 // deliveries queued or being committed
	lastDone atomic.Int64 // when the writer last finished a batch, Unix nanoseconds
	load     loadMeter    // the part of the time the writer spends in its transactions
}

type request struct {
	row  models.Event // as it is to be journaled
	refs store.Refs   // the rows a pending event names, for the erasure check
	ctx  context.Context
	done chan reply
}

type reply struct {
	res Result
	err error
}

// NewJournal starts a Journal writing to db; Close stops it.
func NewJournal(db *store.DB, log *slog.Logger, opts JournalOptions) *Journal {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 8 * time.Second
	}
	if opts.Committed == nil {
		opts.Committed = func() {}
	}
	j := &Journal{
		db: db, log: log, opts: opts, failures: ratelog.New(log, time.Minute),
		queue: make(chan *request, opts.QueueSize), stopped: make(chan struct{}),
	}
	go j.writer()
	return j
}

// Close stops taking deliveries, commits those already queued, and returns
// when the writer has finished.
func (j *Journal) Close() {
	j.mu.Lock()
	if !j.closed {
		j.closed = true
		close(j.queue)
	}
	j.mu.Unlock()
	<-j.stopped
}

// DuplicatesRejected counts deliveries this instance answered "duplicate"
// since it started.
func (j *Journal) DuplicatesRejected() int64 { return j.duplicates.Load() }

// QueueDepth is how many deliveries wait for the writer now.
func (j *Journal) QueueDepth() int { return len(j.queue) }

// Load is the part of the time the writer spent inside its transactions
// lately (about the last second), waits for the database's write lock
// left out: near 1 it can take no more deliveries.
func (j *Journal) Load() float64 { return j.load.value() }

// Active reports whether deliveries are coming in: one is queued or being
// committed, or the last batch finished less than 100 ms ago. The
// projector then paces itself (see ProjectorOptions.Active).
func (j *Journal) Active() bool {
	return j.inFlight.Load() > 0 || time.Since(time.Unix(0, j.lastDone.Load())) < 100*time.Millisecond
}

// CommitStats is the group commit's work since the Journal started.
type CommitStats struct {
	Batches    int64         // batches the writer took, each committed in one transaction (or failed)
	Deliveries int64         // deliveries in them; over Batches, the mean batch
	Busy       time.Duration // time the writer spent on them (counted once a batch is done); near the wall time, it is saturated
}

// CommitStats reports the writer's work so far.
func (j *Journal) CommitStats() CommitStats {
	return CommitStats{Batches: j.batches.Load(), Deliveries: j.batched.Load(), Busy: time.Duration(j.busy.Load())}
}

// classify decides what becomes of an event received at received: applied
// later by the projector, or journaled as ignored or failed with a reason.
func classify(env *Envelope, received time.Time) (*Event, models.EventStatus, *string) {
	ev, err := Decode(env, received)
	var dataErr *DataError
	switch {
	case err == nil:
		return ev, models.EventPending, nil
	case errors.As(err, &dataErr):
		reason := dataErr.Error()
		return nil, models.EventFailed, &reason
	default:
		return nil, models.EventIgnored, nil
	}
}

var outcomes = map[models.EventStatus]Outcome{
	models.EventPending: Accepted,
	models.EventIgnored: Ignored,
	models.EventFailed:  Quarantined,
	models.EventErased:  Accepted,
}

// Ingest journals one signed body and returns once it is committed. A body
// that is not a valid envelope is ErrBadEnvelope and nothing is stored.
// ErrOverloaded, a context error or a storage error mean the sender should
// retry; the event may then already be committed, and the retry is a
// duplicate.
func (j *Journal) Ingest(ctx context.Context, raw []byte) (Result, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return Result{}, err
	}
	req, err := j.newRequest(ctx, env, j.db.Now())
	if err != nil {
		return Result{ID: env.ID, Type: env.Type}, err
	}
	if err := j.enqueue(req); err != nil {
		return Result{ID: env.ID, Type: env.Type}, err
	}
	select {
	case r := <-req.done:
		if r.err == nil && r.res.Outcome == Duplicate {
			j.duplicates.Add(1)
		}
		return r.res, r.err
	case <-ctx.Done():
		return Result{ID: env.ID, Type: env.Type}, ctx.Err()
	}
}

// newRequest is what Ingest journals of env, received at received.
func (j *Journal) newRequest(ctx context.Context, env *Envelope, received time.Time) (*request, error) {
	ev, status, reason := classify(env, received)
	req := &request{
		row: models.Event{ID: env.ID, Type: env.Type, Status: status, Error: reason,
			CreatedAt: models.NewTime(env.CreatedAt), ReceivedAt: models.NewTime(received), Payload: env.Raw},
		ctx: ctx, done: make(chan reply, 1),
	}
	if ev == nil {
		return req, nil
	}
	req.refs = ev.refs()
	if j.opts.RetainBodies > 0 && isMessageEvent(env.Type) && env.CreatedAt.Before(received.Add(-j.opts.RetainBodies)) {
		var err error
		if req.row.Payload, _, err = stripBody(env.Raw); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func (j *Journal) enqueue(req *request) error {
	j.mu.RLock()
	defer j.mu.RUnlock()
	if j.closed {
		return fmt.Errorf("%w: shutting down", store.ErrUnavailable)
	}
	j.inFlight.Add(1)
	select {
	case j.queue <- req:
		return nil
	default:
		j.inFlight.Add(-1)
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
// 10 s of ingest, against 327 and 49,278 locked.
func (j *Journal) writer() {
	runtime.LockOSThread()
	defer close(j.stopped)
	batch := make([]*request, 0, j.opts.MaxBatch)
	for first := range j.queue {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < j.opts.MaxBatch {
			select {
			case r, ok := <-j.queue:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		j.batches.Add(1) // before the answers, so that a sender who has one sees its batch counted
		j.batched.Add(int64(len(batch)))
		start := time.Now()
		j.commit(batch)
		j.busy.Add(int64(time.Since(start)))
		j.inFlight.Add(-int64(len(batch)))
		j.lastDone.Store(time.Now().UnixNano())
	}
}

// commit journals a batch in one transaction. Should that fail while the
// database answers, one event may be to blame (a value the database
// refuses): each is then committed on its own, so the others still succeed.
func (j *Journal) commit(batch []*request) {
	// A panic here would stop the only writer and leave every later
	// delivery waiting; answer this batch with an error and go on.
	defer func() {
		if p := recover(); p != nil {
			j.log.Error("journal writer panicked; batch answered 503", "panic", p)
			for _, r := range batch {
				select {
				case r.done <- reply{res: Result{ID: r.row.ID, Type: r.row.Type}, err: fmt.Errorf("%w: writer failed", store.ErrUnavailable)}:
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
	ctx, cancel := context.WithTimeout(context.Background(), j.opts.CommitTimeout)
	defer cancel()
	results, err := j.write(ctx, live)
	if err == nil {
		j.failures.Recovered(ctx, "commit", "journal: commits succeed again")
		j.answer(live, results)
		return
	}
	if len(live) == 1 || j.db.Ping(ctx) != nil {
		j.failures.Log(ctx, slog.LevelError, "commit", "journal: commit failed; deliveries answered 503", "events", len(live), "err", err)
		j.fail(live, err)
		return
	}
	j.failures.Log(ctx, slog.LevelWarn, "split", "journal: commit failed; committing its events one by one", "events", len(live), "err", err)
	for _, r := range live {
		results, err := j.write(ctx, []*request{r})
		if err != nil {
			j.fail([]*request{r}, err)
			continue
		}
		j.answer([]*request{r}, results)
	}
}

func (j *Journal) answer(reqs []*request, results []Result) {
	pending := false
	for i, r := range reqs {
		pending = pending || (results[i].Outcome == Accepted && r.row.Status == models.EventPending)
		r.done <- reply{res: results[i]}
	}
	if pending {
		j.opts.Committed()
	}
}

func (j *Journal) fail(reqs []*request, err error) {
	for _, r := range reqs {
		r.done <- reply{res: Result{ID: r.row.ID, Type: r.row.Type}, err: err}
	}
}

// write journals reqs in one transaction. Of several copies of one event,
// in the batch or in the journal already, the journal's unique key admits
// exactly one; the counters move by what was admitted.
func (j *Journal) write(ctx context.Context, reqs []*request) ([]Result, error) {
	results := make([]Result, len(reqs))
	var began time.Time
	defer func() {
		if !began.IsZero() {
			j.load.add(time.Since(began))
		}
	}()
	err := j.db.WriteJournal(ctx, func(tx *store.Tx) error {
		began = time.Now()
		erased, err := erasedOnArrival(tx, reqs)
		if err != nil {
			return err
		}
		rows := make([]models.Event, len(reqs))
		for i, r := range reqs {
			rows[i] = r.row
			if erased != nil && erased[i] {
				rows[i].Status, rows[i].Error, rows[i].Payload = models.EventErased, nil, []byte{}
			}
		}
		inserted, err := tx.InsertEvents(rows)
		if err != nil {
			return err
		}
		counts := store.Counts{}
		var newest, received models.Time
		for i, r := range reqs {
			results[i] = Result{ID: r.row.ID, Type: r.row.Type, Outcome: Duplicate}
			if !inserted[r.row.ID] {
				continue
			}
			delete(inserted, r.row.ID) // later copies in this batch are duplicates
			results[i].Outcome = outcomes[rows[i].Status]
			if rows[i].Error != nil {
				results[i].Reason = *rows[i].Error
			}
			counts.Add(store.EventCount(rows[i].Status), 1)
			if r.row.CreatedAt.After(newest.Time) {
				newest = r.row.CreatedAt
			}
			if r.row.ReceivedAt.After(received.Time) {
				received = r.row.ReceivedAt
			}
		}
		if len(counts) == 0 {
			return nil
		}
		if err := tx.MarkEventTimes(newest, received); err != nil {
			return err
		}
		return tx.AddCounts(counts)
	})
	return results, err
}

// erasedOnArrival says which of reqs name a row erased at or after their
// date: they are journaled erased, without their payload (see Erase).
func erasedOnArrival(tx *store.Tx, reqs []*request) ([]bool, error) {
	if err := tx.LockErasuresShared(); err != nil {
		return nil, err
	}
	named := store.Refs{}
	for _, r := range reqs {
		named.Merge(r.refs)
	}
	if named.Len() == 0 {
		return nil, nil
	}
	erasures, err := tx.ErasedAmong(named)
	if err != nil || len(erasures) == 0 {
		return nil, err
	}
	out := make([]bool, len(reqs))
	for i, r := range reqs {
		for kind, ids := range r.refs {
			for id := range ids {
				if at, ok := erasures[kind][id]; ok && !r.row.CreatedAt.After(at.Time) {
					out[i] = true
				}
			}
		}
	}
	return out, nil
}

// loadMeter keeps the part of wall time spent working, over windows of
// about a second, smoothed.
type loadMeter struct {
	mu      stdsync.Mutex
	start   time.Time     // of the current window
	worked  time.Duration // in the current window
	average float64
}

const loadWindow = 250 * time.Millisecond

func (m *loadMeter) add(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(time.Now())
	m.worked += d
}

func (m *loadMeter) value() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(time.Now())
	return m.average
}

// roll closes the windows that ended before now, each moving the average
// a quarter of the way to what it measured (an idle one measured 0).
func (m *loadMeter) roll(now time.Time) {
	if m.start.IsZero() {
		m.start = now
		return
	}
	for now.Sub(m.start) >= loadWindow {
		m.average += (min(1, float64(m.worked)/float64(loadWindow)) - m.average) / 4
		m.worked = 0
		m.start = m.start.Add(loadWindow)
		if now.Sub(m.start) > 8*loadWindow { // long idle: the average is 0 by now
			m.average, m.start = 0, now
		}
	}
}
