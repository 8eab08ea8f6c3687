// Package store opens the SQLite or Postgres database, migrates it, and owns
// every query and transaction. It knows nothing of HTTP.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/buzzmirror/buzzmirror/internal/ratelog"
)

// Drivers the store can open.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// ErrUnavailable wraps every failure to reach or use the database, so callers
// can tell "try again later" from bad input.
var ErrUnavailable = errors.New("storage unavailable")

// DB is the mirror's database. On SQLite writes go through a pool of one
// connection, so Go queues writers instead of SQLite's busy loop; reads use a
// separate pool that WAL lets run beside the writer. On Postgres the two
// pools differ in how Postgres plans statements (see postgresDSN).
type DB struct {
	driver     string
	write      *gorm.DB
	read       *gorm.DB
	checkpoint *gorm.DB // SQLite only: folds the WAL back into the database off the writer's path
	closer     []*sql.DB
	stop       context.CancelFunc // ends background work
	stopped    chan struct{}      // closed once background work has ended

	walFrames     atomic.Int64 // SQLite: WAL length the last checkpoint saw
	walBehind     atomic.Int64 // SQLite: of which not yet copied into the database
	checkpointing stdsync.Mutex
	// SQLite: the database file, open for as long as the pools are (closing
	// a descriptor drops the process's locks on the file), for the
	// background checkpoints to sync what they copied (runCheckpoints).
	dbFile *os.File

	// For Ready: the last commit and the last failure, Unix nanoseconds,
	// and the last probe.
	lastCommit, lastFailure atomic.Int64
	probing                 stdsync.Mutex
	probed                  time.Time
	probeErr                error
	// gone says why the database file is no longer the one opened
	// (SQLite: deleted or replaced under the service); nil while it is.
	gone     atomic.Pointer[string]
	file     string // SQLite: the database file, "" in memory
	identity string // SQLite: device and inode of file when opened

	texts texts // the writer's bulk statements (bulk.go)

	gramCounts gramCounts // SQLite: how many rows hold a trigram, for q (grams.go)

	// SQLite: the pause between one write transaction and the next
	// (Options.Yield), and when the last one ended, Unix nanoseconds; and
	// the writer's busy timeout, in milliseconds, as its DSN sets it.
	yield      time.Duration
	released   atomic.Int64
	busyMillis int64
	log        *ratelog.Limiter

	// Now is the clock behind receivedAt and syncedAt; tests replace it.
	Now func() time.Time
}

// Options tune Open.
type Options struct {
	// MaxOpenConns caps the read pool (and on Postgres the whole pool); 4
	// when zero.
	MaxOpenConns int
	// Log receives what background work (SQLite's checkpoints) has to
	// report; nothing is logged when it is nil.
	Log *slog.Logger
	// WriterCacheKiB sizes the SQLite writer's page cache (64 MiB when
	// zero). A rebuild takes 8 MiB: it touches far more pages than any
	// cache holds, and the memory serves its row cache better.
	WriterCacheKiB int
	// Yield is how long the SQLite writer pauses after a write
	// transaction before it begins the next. A bulk writer in a process of
	// its own (rebuild, erase) yields a few milliseconds, so that the
	// serving process's writer, which tries for the lock every millisecond
	// meanwhile, gets its turn and deliveries do not wait (see
	// lockedTransaction).
	Yield time.Duration
}

// Open connects to the database without migrating it.
func Open(ctx context.Context, driver, dsn string, opts Options) (*DB, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 4
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	db := &DB{driver: driver, Now: time.Now, texts: texts{postgres: driver == DriverPostgres}, log: ratelog.New(opts.Log, time.Minute), yield: opts.Yield}
	var err error
	switch driver {
	case DriverSQLite:
		err = db.openSQLite(dsn, opts)
	case DriverPostgres:
		// Writes plan without table scans (see postgresDSN); reads keep pgx's
		// statement cache, since the read API's few query shapes repeat.
		db.write, err = openGorm(postgres.Open(postgresDSN(dsn)), opts.MaxOpenConns)
		if err == nil {
			db.read, err = openGorm(postgres.Open(dsn), opts.MaxOpenConns)
		}
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want %q or %q)", driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", driver, err)
	}
	for _, g := range []*gorm.DB{db.write, db.read, db.checkpoint} {
		if g != nil {
			sqlDB, _ := g.DB()
			db.closer = append(db.closer, sqlDB)
		}
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.checkpoint != nil {
		ctx, cancel := context.WithCancel(context.Background())
		db.stop, db.stopped = cancel, make(chan struct{})
		go func() { defer close(db.stopped); db.runCheckpoints(ctx) }()
	}
	return db, nil
}

func openGorm(d gorm.Dialector, maxConns int, opts ...func(*gorm.Config)) (*gorm.DB, error) {
	cfg := &gorm.Config{
		// GORM's default logger prints slow queries with their values, which
		// would put phone numbers and message bodies into the log.
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	}
	for _, o := range opts {
		o(cfg)
	}
	g, err := gorm.Open(d, cfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return g, nil
}

// prepared keeps each connection's compiled statements for reuse. SQLite's
// driver compiles every statement anew, and the read API's few query shapes
// repeat; the cache keeps the 256 most recently used. It serves lists and
// gets: a statement first prepared inside a transaction (the change feed's
// snapshot) belongs to it, and GORM prepares it again in the next. (pgx
// caches statements itself.)
func prepared(c *gorm.Config) { c.PrepareStmt, c.PrepareStmtMaxSize = true, 256 }

// postgresDSN turns sequential scans off for the write pool's sessions
// (enable_seqscan=off) unless the DSN chooses otherwise. The writer's bulk
// statements repeat their texts (bulk.go), so pgx prepares each once per
// connection, and after five runs Postgres plans a prepared statement once
// for all arguments. That plan is made while the tables are still small,
// where a scan is cheapest, and kept as they grow: the writer's
// id IN ($1, ...) loads fell to scanning the whole table, and ingest to
// about 1,400 events/s. Every statement of the writer finds its rows by a
// key, so without scans its plans stay on the indexes and it plans each
// statement once instead of every time (planning was a fifth of the
// writer's backend in perf). bench ingest on Postgres, 30 s, interleaved
// with plans made anew for every run: 4,911 and 5,145 -> 5,898 and 5,507
// events/s, Postgres CPU per event down by a quarter.
func postgresDSN(dsn string) string {
	if strings.Contains(dsn, "enable_seqscan") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("enable_seqscan", "off")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " enable_seqscan=off"
}

// Driver names the database kind.
func (db *DB) Driver() string { return db.driver }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.goneErr(); err != nil {
		return err
	}
	for _, c := range db.closer {
		if err := c.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping: %w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// Close releases every connection. It waits for background work to end
// first, so that SQLite's last connection folds the WAL back into the
// database and leaves one file.
func (db *DB) Close() error {
	if db.stop != nil {
		db.stop()
		<-db.stopped
	}
	var errs []error
	seen := map[*sql.DB]bool{}
	for _, c := range db.closer {
		if c != nil && !seen[c] {
			seen[c] = true
			errs = append(errs, c.Close())
		}
	}
	if db.dbFile != nil {
		errs = append(errs, db.dbFile.Close())
	}
	return errors.Join(errs...)
}

// unavailable marks err as a storage failure unless it is a context error or
// already marked.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
