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
// (from the start when nil). Contacts, when not nil on a list of rows that
// name a contact (conversations, messages), receives those contacts by id,
// read in the same query (see findWithContacts).
type Page struct {
	Limit    int
	After    *Key
	Contacts map[string]*models.Contact
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
	q = q.Order(fmt.Sprintf("%s %s, id %s", o.column, dir, dir)).Limit(p.Limit + 1)
	var rows []T
	var err error
	if p.Contacts != nil {
		rows, err = findWithContacts[T](q, fmt.Sprintf("p.%s %s, p.id %s", o.column, dir, dir), p.Limit+1, p.Contacts)
	} else {
		rows, err = findAll[T](q, p.Limit+1)
	}
	if err != nil {
		return nil, false, unavailable(fmt.Errorf("store: list %s: %w", what, err))
	}
	if len(rows) > p.Limit {
		return rows[:p.Limit], true, nil
	}
	return rows, false, nil
}

// exportPage is how many rows an export reads at a time.
const exportPage = 1000

// export hands fn every row of model that filter matches, in order, a
// page at a time, all pages read in one snapshot (a row that changes
// meanwhile is neither repeated nor skipped). Memory holds one page. The
// ctx fn gets reads in that snapshot too (see reads), so that what fn
// looks up beside the rows agrees with them and needs no second
// connection from the read pool.
func export[T any](ctx context.Context, db *DB, model any, filter func(*gorm.DB) *gorm.DB, o order, key func(*T) Key, what string, fn func(context.Context, []T) error) error {
	var fnErr error
	err := db.readTx(ctx, func(tx *gorm.DB) error {
		in := context.WithValue(ctx, snapshotKey{}, tx)
		p := Page{Limit: exportPage}
		for {
			q := tx.Model(model)
			if _, mirror := model.(*models.Event); !mirror {
				q = q.Omit(versionsColumn)
			}
			rows, more, err := list[T](filter(q), o, p, what)
			if err != nil {
				return err
			}
			if len(rows) > 0 {
				if fnErr = fn(in, rows); fnErr != nil {
					return fnErr
				}
			}
			if !more {
				return nil
			}
			k := key(&rows[len(rows)-1])
			p.After = &k
		}
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// snapshotKey marks a context whose reads belong to an export's snapshot.
type snapshotKey struct{}

// reads is where a read in ctx goes: the export snapshot ctx belongs to,
// or the read pool.
func (db *DB) reads(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(snapshotKey{}).(*gorm.DB); ok {
		return tx.Session(&gorm.Session{NewDB: true})
	}
	return db.read.WithContext(ctx)
}

// mirrorRows starts a list of mirror rows for the API. The rows come
// without their per-field versions (left zero): no answer shows them, and
// decoding them took 15 % of the read API's CPU. (A single row is read
// whole: one row's versions cost less than naming the columns.)
func (db *DB) mirrorRows(ctx context.Context, model any) *gorm.DB {
	return db.reads(ctx).Model(model).Omit(versionsColumn)
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

// exists answers models.ErrNotFound unless the mirror holds the row of
// model with id. It reads the primary key alone: a list under a contact or
// conversation needs to know that its owner exists, not what it holds.
func exists(ctx context.Context, db *DB, model any, id, what string) error {
	var ids []string
	if err := db.read.WithContext(ctx).Model(model).Where("id = ?", id).Limit(1).Pluck("id", &ids).Error; err != nil {
		return unavailable(fmt.Errorf("store: look up %s %s: %w", what, id, err))
	}
	if len(ids) == 0 {
		return models.ErrNotFound
	}
	return nil
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
