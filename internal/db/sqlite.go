//go:build !production

package db

import (
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
)

// sqliteDialector opens an SQLite file (pure Go, no cgo). Production builds
// (-tags production) leave SQLite out: it serves only `vellum dev`.
func sqliteDialector(dsn string) (gorm.Dialector, error) { return sqlite.Open(dsn), nil }
