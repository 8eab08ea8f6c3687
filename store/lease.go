package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The projector lease: one projector per database at a time. It lives on
// the feed_clock row, which every mirror writer locks first, so a
// projector compares its epoch with the row's inside the transaction that
// writes (Tx.LeaseEpoch): one whose lease lapsed and was taken over can
// never write, however late it wakes up. The lease runs on the database's
// clock on Postgres (instances' clocks may differ), on this machine's
// wall clock on SQLite.

// ErrLeaseLost means another projector (or a rebuild, or an erasure) took
// the lease over.
var ErrLeaseLost = errors.New("the projector lease was taken over")

// Lease is who holds the projector lease.
type Lease struct {
	Holder string
	Epoch  int64
	Until  time.Time // the zero time once released
	Held   bool      // Until lies ahead by the clock the lease runs on
}

// leaseNow is the SQL expression of the lease clock in Unix milliseconds,
// and its arguments.
func (db *DB) leaseNow() (string, []any) {
	if db.driver == DriverPostgres {
		return "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)", nil
	}
	return "?", []any{time.Now().UnixMilli()}
}

// AcquireLease takes the lease for holder for ttl, when nobody holds it or
// with preempt whoever does, and returns its new epoch; ok is false when
// another holds it.
func (db *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration, preempt bool) (epoch int64, ok bool, err error) {
	now, nowArgs := db.leaseNow()
	q := "UPDATE feed_clock SET lease_holder = ?, lease_epoch = lease_epoch + 1, lease_until = " + now + " + ? " +
		"WHERE id = 1 AND (lease_until < " + now + " OR ?) RETURNING lease_epoch"
	args := append([]any{holder}, nowArgs...)
	args = append(args, ttl.Milliseconds())
	args = append(args, nowArgs...)
	args = append(args, preempt)
	ok, err = db.leaseRow(ctx, q, args, &epoch)
	if err != nil {
		return 0, false, fmt.Errorf("store: acquire lease: %w", err)
	}
	return epoch, ok, nil
}

// RenewLease extends the lease of epoch by ttl; ok is false when the lease
// is no longer that epoch's.
func (db *DB) RenewLease(ctx context.Context, epoch int64, ttl time.Duration) (bool, error) {
	now, nowArgs := db.leaseNow()
	q := "UPDATE feed_clock SET lease_until = " + now + " + ? WHERE id = 1 AND lease_epoch = ? RETURNING lease_epoch"
	args := append(nowArgs, ttl.Milliseconds(), epoch)
	var got int64
	ok, err := db.leaseRow(ctx, q, args, &got)
	if err != nil {
		return false, fmt.Errorf("store: renew lease: %w", err)
	}
	return ok, nil
}

// ReleaseLease gives the lease of epoch up at once, so that another
// projector need not wait for it to lapse.
func (db *DB) ReleaseLease(ctx context.Context, epoch int64) error {
	var got int64
	_, err := db.leaseRow(ctx, "UPDATE feed_clock SET lease_until = 0 WHERE id = 1 AND lease_epoch = ? RETURNING lease_epoch",
		[]any{epoch}, &got)
	if err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	return nil
}

// CurrentLease reads who holds the lease.
func (db *DB) CurrentLease(ctx context.Context) (Lease, error) {
	now, nowArgs := db.leaseNow()
	var l Lease
	var until, at int64
	row := db.write.WithContext(ctx).Raw("SELECT lease_holder, lease_epoch, lease_until, "+now+" FROM feed_clock WHERE id = 1", nowArgs...).Row()
	if err := row.Scan(&l.Holder, &l.Epoch, &until, &at); err != nil {
		return l, unavailable(fmt.Errorf("store: read lease: %w", err))
	}
	if until > 0 {
		l.Until = time.UnixMilli(until)
	}
	l.Held = until > at
	return l, nil
}

// leaseRow runs one lease statement in a transaction of its own and scans
// the row it returns, if any.
func (db *DB) leaseRow(ctx context.Context, q string, args []any, dest *int64) (bool, error) {
	found := false
	err := db.writeStatements(ctx, func(g *gorm.DB) error {
		rows, err := g.Raw(q, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			if err := rows.Scan(dest); err != nil {
				return err
			}
			found = true
		}
		return rows.Err()
	})
	return found, unavailable(err)
}
