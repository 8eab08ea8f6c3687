package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/buzzmirror/buzzmirror/models"
)

// Key is a keyset position in a list: the sort column's stored value and the
// row id, which breaks ties.
type Key struct {
	At string
	ID string
}

// Page bounds a list query: at most Limit rows after the position After
// (from the start when nil).
type Page struct {
	Limit int
	After *Key
}

// order is a list's sort: a time column, newest or oldest first, ties by id
// in the same direction.
type order struct {
	column string
	desc   bool
}

// list runs one keyset page of q. It fetches one row more than asked to know
// whether another page follows, without counting.
func list[T any](q *gorm.DB, o order, p Page, what string) ([]T, bool, error) {
	dir, cmp := "ASC", ">"
	if o.desc {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		q = q.Where(fmt.Sprintf("(%s, id) %s (?, ?)", o.column, cmp), p.After.At, p.After.ID)
	}
	rows, err := findAll[T](q.Order(fmt.Sprintf("%s %s, id %s", o.column, dir, dir)).Limit(p.Limit+1), p.Limit+1)
	if err != nil {
		return nil, false, unavailable(fmt.Errorf("store: list %s: %w", what, err))
	}
	if len(rows) > p.Limit {
		return rows[:p.Limit], true, nil
	}
	return rows, false, nil
}

// mirrorRows starts a list of mirror rows for the API. The rows come
// without their per-field versions (left zero): no answer shows them, and
// decoding them took 15 % of the read API's CPU. (A single row is read
// whole: one row's versions cost less than naming the columns.)
func (db *DB) mirrorRows(ctx context.Context, model any) *gorm.DB {
	return db.read.WithContext(ctx).Model(model).Omit(versionsColumn)
}

const versionsColumn = "versions"

// get reads one row by id.
func get[T any](ctx context.Context, db *DB, id, what string) (*T, error) {
	rows, err := findAll[T](db.read.WithContext(ctx).Model(new(T)).Where("id = ?", id).Limit(1), 1)
	if err != nil {
		return nil, unavailable(fmt.Errorf("store: get %s %s: %w", what, id, err))
	}
	if len(rows) == 0 {
		return nil, models.ErrNotFound
	}
	return &rows[0], nil
}

// likeContains is a LIKE pattern matching s anywhere, with LIKE's own
// wildcards in s escaped.
func likeContains(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}

// readTx runs fn in one read-only snapshot, so that several queries see the
// same committed state.
func (db *DB) readTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.driver == DriverPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	} else {
		opts = nil // SQLite: a deferred transaction holds one WAL snapshot from its first read
	}
	err := db.read.WithContext(ctx).Transaction(fn, opts)
	return unavailable(err)
}
