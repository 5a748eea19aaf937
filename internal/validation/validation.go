// Package validation is the one shape every domain package uses to refuse
// bad input: every invalid field at once, each with a reason, so the HTTP
// layer can turn any of them into a problem's invalidParams the same way.
package validation

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
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

// Text kinds for CheckText.
const (
	// Multiline text may hold tabs and line breaks (descriptions, messages).
	Multiline TextKind = iota
	// Line text holds no control characters at all (titles, names).
	Line
	// Filename is Line text without the bidirectional controls that make
	// "invoice\u202Efdp.exe" display as "invoiceexe.pdf".
	Filename
)

// TextKind says which characters CheckText admits besides printable ones.
type TextKind int

// CheckText is the one check every client-supplied string passes before it
// reaches a store: it returns why s is refused, or "" when it is fine. No
// kind admits invalid UTF-8 or NUL, which PostgreSQL cannot store in text.
func CheckText(s string, kind TextKind) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "must not contain NUL characters"
		case kind == Multiline && (r == '\t' || r == '\n' || r == '\r'):
		case unicode.IsControl(r):
			return "must not contain control characters"
		case kind == Filename && isBidiControl(r):
			return "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C)"
		}
	}
	return ""
}

// isBidiControl reports the explicit directional formatting characters of
// Unicode's bidirectional algorithm (UAX #9).
func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}
