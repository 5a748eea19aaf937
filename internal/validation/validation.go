// Package validation is the one shape every domain package uses to refuse
// bad input: every invalid field at once, each with a reason, so the HTTP
// layer can turn any of them into a problem's invalidParams the same way.
package validation

import (
	"errors"
	"strings"
)

// ErrInvalid is what every Errors value unwraps to.
var ErrInvalid = errors.New("invalid input")

// FieldError names one invalid input and why.
type FieldError struct {
	Field  string
	Reason string
}

// Errors lists every invalid input of a request.
type Errors []FieldError

func (e Errors) Error() string {
	var b strings.Builder
	b.WriteString("invalid fields:")
	for _, f := range e {
		b.WriteString(" " + f.Field + " (" + f.Reason + ")")
	}
	return b.String()
}

// Unwrap makes Errors match ErrInvalid.
func (e Errors) Unwrap() error { return ErrInvalid }
