// Package i18n is the one message catalogue of what Vellum says to people
// (the signing, PIN and portal pages and the e-mails), in every language it
// speaks, with the language choice, plural rules, dates and numbers that go
// with it.
//
// The catalogue is our own small table keyed by message id rather than
// golang.org/x/text/message/catalog: the same messages must reach the
// pages' scripts as plain JSON (catalog cannot list its keys or export a
// language), and a test must be able to enumerate every id of every
// language to prove none is missing. Numbers are still formatted by
// golang.org/x/text (CLDR data), and language tags parsed by its BCP 47
// parser.
package i18n

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// Lang is a supported language: its BCP 47 base subtag.
type Lang string

// The supported languages.
const (
	English   Lang = "en"
	French    Lang = "fr"
	Czech     Lang = "cs"
	Norwegian Lang = "nb" // bokmål
	Kazakh    Lang = "kk"
	Russian   Lang = "ru"
)

// Supported lists the languages in the order they are offered.
var Supported = []Lang{English, French, Czech, Norwegian, Kazakh, Russian}

// SupportedList is Supported for error messages ("en, fr, cs, nb, kk, ru").
func SupportedList() string {
	s := make([]string, len(Supported))
	for i, l := range Supported {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// base maps a tag to a supported language: "nb-NO" and "no" to nb,
// "fr-CA" to fr. ok is false for a language we do not speak.
func base(t language.Tag) (Lang, bool) {
	b, _ := t.Base()
	s := b.String()
	if s == "no" {
		s = "nb"
	}
	l := Lang(s)
	return l, slices.Contains(Supported, l)
}

// Parse validates a BCP 47 tag (an envelope's language, a recipient's
// locale) and returns its supported language. The error says why, for an
// API client.
func Parse(tag string) (Lang, error) {
	t, err := language.Parse(tag)
	if err != nil || strings.TrimSpace(tag) != tag || tag == "" {
		return "", fmt.Errorf("must be a BCP 47 language tag such as \"fr\" or \"nb-NO\"; one of %s", SupportedList())
	}
	l, ok := base(t)
	if !ok {
		return "", fmt.Errorf("language %q is not supported; use one of %s", tag, SupportedList())
	}
	return l, nil
}

// Negotiate picks the language: the first of chosen (an envelope's or
// session's language, a recipient's locale, in order of precedence) that
// is set and supported, else the best match of an Accept-Language header,
// else English.
func Negotiate(acceptLanguage string, chosen ...string) Lang {
	for _, c := range chosen {
		if c == "" {
			continue
		}
		if l, err := Parse(c); err == nil {
			return l
		}
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err == nil {
		for _, t := range tags { // sorted by quality
			if l, ok := base(t); ok {
				return l
			}
		}
	}
	return English
}

// Localizer speaks one language.
type Localizer struct{ Lang Lang }

// For returns the localizer of l (English for an unknown l).
func For(l Lang) Localizer {
	if !slices.Contains(Supported, l) {
		l = English
	}
	return Localizer{Lang: l}
}

// T returns message id with its {placeholders} replaced by kv (name, value
// pairs). A missing id is a programming error the catalogue test catches;
// at run time it falls back to English, then to the id itself.
func (l Localizer) T(id string, kv ...any) string {
	msg, ok := catalogue[l.Lang][id]
	if !ok {
		if msg, ok = catalogue[English][id]; !ok {
			return id
		}
	}
	return fill(msg, kv)
}

// N returns the plural form of message id for count n, with {n} the
// localised number. The forms are ids id+".one", ".few", ".many",
// ".other" as the language's CLDR plural rule needs.
func (l Localizer) N(id string, n int, kv ...any) string {
	return l.T(id+"."+string(pluralOf(l.Lang, n)), append([]any{"n", l.Number(int64(n))}, kv...)...)
}

func fill(msg string, kv []any) string {
	if len(kv) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(kv[i])+"}", fmt.Sprint(kv[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// Tag is the language's BCP 47 tag for lang= attributes and headers.
func (l Localizer) Tag() string { return string(l.Lang) }

// Number formats an integer with the language's digit grouping.
func (l Localizer) Number(n int64) string {
	return message.NewPrinter(language.Make(string(l.Lang))).Sprint(number.Decimal(n))
}

// Decimal formats f with at most prec fraction digits.
func (l Localizer) Decimal(f float64, prec int) string {
	return message.NewPrinter(language.Make(string(l.Lang))).Sprint(number.Decimal(f, number.MaxFractionDigits(prec)))
}

// Size formats a byte count as people read it: megabytes with one
// decimal from 1 MiB, else whole kilobytes rounded up.
func (l Localizer) Size(n int64) string {
	if n >= 1<<20 {
		return l.T("size.mb", "n", l.Decimal(float64(n)/(1<<20), 1))
	}
	return l.T("size.kb", "n", l.Number((n+1023)/1024))
}

// Date formats t's day in UTC as the language writes a date in a
// sentence ("2 January 2026", "2. ledna 2026").
func (l Localizer) Date(t time.Time) string {
	t = t.UTC()
	return fill(l.T("date.format"), []any{"d", strconv.Itoa(t.Day()), "month", l.T("date.month." + strconv.Itoa(int(t.Month()))),
		"y", strconv.Itoa(t.Year())})
}

// DateTime formats t in UTC with the time of day.
func (l Localizer) DateTime(t time.Time) string {
	return l.T("date.datetime", "date", l.Date(t), "time", t.UTC().Format("15:04"))
}

// Messages returns the messages whose id starts with prefix, for a page's
// script.
func (l Localizer) Messages(prefix string) map[string]string {
	out := map[string]string{}
	for id := range catalogue[English] {
		if strings.HasPrefix(id, prefix) {
			out[id] = l.T(id)
		}
	}
	return out
}

// Plural categories (CLDR).
type plural string

const (
	one   plural = "one"
	few   plural = "few"
	many  plural = "many"
	other plural = "other"
)

// pluralOf is the CLDR cardinal rule of each language for integers.
func pluralOf(l Lang, n int) plural {
	if n < 0 {
		n = -n
	}
	switch l {
	case French:
		if n == 0 || n == 1 {
			return one
		}
		return other
	case Czech:
		switch {
		case n == 1:
			return one
		case n >= 2 && n <= 4:
			return few
		}
		return other
	case Russian:
		switch m10, m100 := n%10, n%100; {
		case m10 == 1 && m100 != 11:
			return one
		case m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14):
			return few
		}
		return many
	}
	if n == 1 {
		return one
	}
	return other
}

// pluralForms are the categories a language's integers use.
var pluralForms = map[Lang][]plural{
	English: {one, other}, French: {one, other}, Czech: {one, few, other},
	Norwegian: {one, other}, Kazakh: {one, other}, Russian: {one, few, many},
}

// Canonical returns a valid tag in its canonical form ("nb-no" →
// "nb-NO"), and anything else unchanged (validation refuses it).
func Canonical(tag string) string {
	t, err := language.Parse(tag)
	if err != nil || tag == "" {
		return tag
	}
	return t.String()
}
