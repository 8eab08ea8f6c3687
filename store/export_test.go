package store

import "gorm.io/gorm"

// ReadGorm exposes the read pool to the store's black-box tests.
func ReadGorm(db *DB) *gorm.DB { return db.read }
