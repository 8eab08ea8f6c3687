package store

import (
	"context"

	"gorm.io/gorm"
)

// ReadGorm exposes the read pool to the store's black-box tests.
func ReadGorm(db *DB) *gorm.DB { return db.read }

// WriteGorm exposes the write pool to the store's black-box tests.
func WriteGorm(db *DB) *gorm.DB { return db.write }

// The shadow mirror's names, for its black-box tests.
var (
	MirrorTables  = mirrorTablesOf
	ShadowPrefix  = shadowPrefix
	RetiredPrefix = retiredPrefix
)

// TableExists exposes tableExists.
func TableExists(db *DB, ctx context.Context, name string) (bool, error) {
	return db.tableExists(ctx, name)
}
