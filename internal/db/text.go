package db

import (
	"strings"
	"unicode/utf8"
)

// Clip makes s storable in a text column of at most n bytes on either
// dialect: invalid UTF-8 and NUL bytes (which PostgreSQL refuses in text)
// become U+FFFD, and a cut never splits a character.
func Clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
