package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// On Postgres a write transaction is pipelined. Every statement costs a
// round trip to the server, and under load each round trip waits for the
// server process to be scheduled: a batch of the writer took fourteen of
// them, and they, not the statements' work, were most of its time. So a
// transaction runs on one connection of its own, and the statements whose
// answers it does not need at once (BEGIN, the mirror's upserts, COMMIT)
// wait in a queue and go with the next statement that must be answered, in
// one network write: a batch begins, journals and takes its feed position
// in one round trip, loads the rows it names in a second, and writes them
// and commits in a third. The statements still run one after another in
// the order they were queued; if one fails, the server skips the rest and
// the transaction rolls back whole, as before.
//
// GORM builds every statement (as a dry run for the queued ones) and runs
// those that must be answered at once through pipeConn, which first sends
// whatever is queued.

// pipe is the queue of a pipelined transaction and the connection it runs on.
type pipe struct {
	ctx     context.Context
	conn    *sql.Conn
	pending []pipedStmt
}

// pipedStmt is one queued statement; read handles its rows, if it has any
// use for them, and tag checks its command tag.
type pipedStmt struct {
	sql  string
	args []any
	read func(pgx.Rows) error
	tag  func(pgconn.CommandTag) error
}

// queue adds a statement to go with the next round trip.
func (p *pipe) queue(s pipedStmt) { p.pending = append(p.pending, s) }

// send sends the queued statements in one round trip and hands each its
// answer. The queue is empty afterwards, whatever the outcome.
func (p *pipe) send() error {
	if len(p.pending) == 0 {
		return nil
	}
	stmts := p.pending
	p.pending = nil
	return p.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: pipeline needs a pgx connection, got %T", dc)
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.sql, s.args...)
		}
		br := c.Conn().SendBatch(p.ctx, b)
		for _, s := range stmts {
			if err := answer(br, s); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
}

// answer reads the result of one statement of a batch.
func answer(br pgx.BatchResults, s pipedStmt) error {
	if s.read == nil {
		tag, err := br.Exec()
		if err == nil && s.tag != nil {
			err = s.tag(tag)
		}
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := s.read(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// writePipelined is a transaction on Postgres.
func (db *DB) writePipelined(ctx context.Context, feed, durable bool, fn func(*Tx) error) error {
	begin := "BEGIN"
	if !durable {
		begin = "BEGIN; SET LOCAL synchronous_commit = off"
	}
	return db.pipelined(ctx, begin, feed, fn)
}

// pipelined runs fn in a pipelined transaction that begin starts, on the
// write pool (whose sessions plan without table scans, see postgresDSN).
// With feed it takes a change-feed position first.
func (db *DB) pipelined(ctx context.Context, begin string, feed bool, fn func(*Tx) error) error {
	sqlDB, err := db.write.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close() // a connection left inside a transaction is discarded (pgx's ResetSession)
	p := &pipe{ctx: ctx, conn: conn}
	tx := &Tx{now: models.NewTime(db.Now()), pipe: p, texts: &db.texts, feed: feed, seq: -1}
	tx.g = db.write.Session(&gorm.Session{NewDB: true, Context: ctx})
	tx.g.Statement.ConnPool = pipeConn{p}
	for _, stmt := range strings.Split(begin, "; ") {
		p.queue(pipedStmt{sql: stmt})
	}
	if feed {
		p.queue(pipedStmt{sql: takeFeedPosition, read: func(rows pgx.Rows) error {
			if !rows.Next() {
				return errors.New("store: feed_clock has no row")
			}
			return rows.Scan(&tx.seq, &tx.epoch)
		}})
	}
	if err = fn(tx); err == nil {
		err = tx.err
	}
	if err == nil {
		p.queue(pipedStmt{sql: "COMMIT", tag: func(tag pgconn.CommandTag) error {
			if tag.String() != "COMMIT" {
				return errors.New("store: the transaction was rolled back")
			}
			return nil
		}})
		if err = p.send(); err == nil {
			return nil
		}
	}
	p.pending = nil
	rollbackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = conn.ExecContext(rollbackCtx, "ROLLBACK")
	return err
}

// pipeConn is the connection GORM sees inside a pipelined transaction: it
// sends the queued statements before each of its own, so the server runs
// them in the order they were written. It is deliberately no TxBeginner,
// so GORM never opens a transaction of its own on it.
type pipeConn struct{ p *pipe }

func (c pipeConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := c.p.send(); err != nil {
		return nil, err
	}
	return c.p.conn.PrepareContext(ctx, query)
}

func (c pipeConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := c.p.send(); err != nil {
		return nil, err
	}
	return c.p.conn.ExecContext(ctx, query, args...)
}

func (c pipeConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := c.p.send(); err != nil {
		return nil, err
	}
	return c.p.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot return an error of its own: should sending the
// queue fail, the row answers with the cancelled context's error.
func (c pipeConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := c.p.send(); err != nil {
		failed, cancel := context.WithCancel(ctx)
		cancel()
		ctx = failed
	}
	return c.p.conn.QueryRowContext(ctx, query, args...)
}
