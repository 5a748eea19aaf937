package db_test

import (
	"testing"
	"unicode/utf8"

	"github.com/vellum-sign/vellum/internal/db"
)

func TestClip_KeepsTextStorable(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"cut here", 3, "cut"},
		{"é€😀", 2, "é"},            // 2 + 3 + 4 bytes: never half a character
		{"é€😀", 4, "é"},            // inside €
		{"é€😀", 8, "é€"},           // inside 😀
		{"a\x00b", 10, "a\uFFFDb"}, // PostgreSQL refuses NUL in text
		{"a\xffb", 10, "a\uFFFDb"}, // and invalid UTF-8
	}
	for _, tt := range tests {
		got := db.Clip(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) || len(got) > max(tt.n, len(tt.want)) {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
