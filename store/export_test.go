package store

import "gorm.io/gorm"

// ReadGorm exposes the read pool to the store's black-box tests.
func ReadGorm(db *DB) *gorm.DB { return db.read }

// WriteGorm exposes the write pool to the store's black-box tests.
func WriteGorm(db *DB) *gorm.DB { return db.write }
