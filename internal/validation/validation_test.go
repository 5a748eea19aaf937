package validation_test

import (
	"testing"

	"github.com/vellum-sign/vellum/internal/validation"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		s    string
		kind validation.TextKind
		ok   bool
	}{
		{"Contrat de travail – été 2026", validation.Line, true},
		{"契約書.pdf", validation.Filename, true},
		{"عقد.pdf", validation.Filename, true}, // right-to-left letters are text, not controls
		{"line one\nline two\ttab", validation.Multiline, true},
		{"line one\nline two", validation.Line, false},
		{"nul\x00", validation.Multiline, false},
		{"bad \xff utf-8", validation.Multiline, false},
		{"escape \x1b[2J", validation.Multiline, false},
		{"del \x7f", validation.Line, false},
		{"invoice\u202Efdp.exe", validation.Filename, false},
		{"invoice\u202Efdp.exe", validation.Line, true}, // only file names refuse bidi controls
		{"a\u2066b\u2069.pdf", validation.Filename, false},
		{"a\u200Fb.pdf", validation.Filename, false},
	} {
		if got := validation.CheckText(tc.s, tc.kind) == ""; got != tc.ok {
			t.Errorf("CheckText(%q, %d) accepted=%v, want %v (%q)", tc.s, tc.kind, got, tc.ok, validation.CheckText(tc.s, tc.kind))
		}
	}
}
