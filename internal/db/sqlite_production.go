//go:build production

package db

import (
	"errors"

	"gorm.io/gorm"
)

// sqliteDialector refuses: this build left SQLite out.
func sqliteDialector(string) (gorm.Dialector, error) {
	return nil, errors.New("this binary was built with -tags production, without SQLite: use PostgreSQL, or a development build (make build) for sqlite:// and vellum dev")
}
