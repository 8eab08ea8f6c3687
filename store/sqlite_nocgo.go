//go:build !cgo

package store

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// errNoCGO is why a binary built with CGO_ENABLED=0 cannot open SQLite:
// the driver is SQLite's C library.
var errNoCGO = errors.New("this buzzmirror was built without cgo, and SQLite needs it: " +
	"use database.driver postgres, or build with CGO_ENABLED=1 and a C compiler")

func (db *DB) openSQLite(string, Options) error { return errNoCGO }

// OpenSQLite is errNoCGO.
func OpenSQLite(string) (*sql.DB, error) { return nil, errNoCGO }

func (db *DB) runCheckpoints(context.Context) {}

func (db *DB) rewindWAL(context.Context) {}

func (db *DB) sqliteTransaction(context.Context, bool, func(*gorm.DB) error) error {
	return errNoCGO
}

func sqliteTransient(error) (transient, known bool) { return false, false }
