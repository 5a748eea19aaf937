package db

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Next advances the named counter and returns its new value, starting at 1.
// Inside a transaction the counter row stays locked until commit, so numbers
// are handed out without gaps between committed callers and never twice.
func (d *DB) Next(ctx context.Context, name string) (int64, error) {
	var v int64
	err := d.Conn(ctx).Raw(`INSERT INTO sequences (name, value) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1
		RETURNING value`, name).Scan(&v).Error
	if err != nil {
		return 0, fmt.Errorf("next value of %s: %w", name, err)
	}
	return v, nil
}

// IsUniqueViolation reports whether err is the database refusing a row
// that breaks a unique constraint, in either dialect.
func (d *DB) IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if t, ok := d.gorm.Dialector.(gorm.ErrorTranslator); ok {
		return errors.Is(t.Translate(err), gorm.ErrDuplicatedKey)
	}
	return false
}
