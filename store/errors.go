package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// Transient reports whether err is the database's trouble (a lost
// connection, a lock, a full disk, a missing table: worth trying again
// later, and worth an operator's look) rather than a refusal of the values
// a statement carried, which would fail the same way every time. Errors
// that come from no database (a projection bug) are not transient.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	// The database's own verdict first: a refusal comes wrapped in
	// ErrUnavailable like any failed transaction.
	if t, known := sqliteTransient(err); known {
		return t
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		// cardinality, data exception, integrity, triggered data change,
		// check option, program limit (an index entry too large), and the
		// exceptions triggers raise: the values are to blame.
		case "21", "22", "23", "27", "44", "54", "09", "P0":
			return false
		}
		return true // connection, resources, a missing table, operator intervention
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) ||
		errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
