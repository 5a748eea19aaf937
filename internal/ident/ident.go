// Package ident makes the public identifiers of Vellum's objects: a type
// prefix and a time-ordered UUIDv7 in hex ("env_01936f…"), so ids sort by
// creation and say what they name.
package ident

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns prefix + "_" + 32 hex digits.
func New(prefix string) string {
	u, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only if the system random source does.
		panic("ident: " + err.Error())
	}
	return prefix + "_" + hex.EncodeToString(u[:])
}
