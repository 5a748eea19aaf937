package i18n

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var placeholderRE = regexp.MustCompile(`\{[a-z]+\}`)

// pluralBase returns the id without its plural category, and whether it
// had one.
func pluralBase(id string) (string, bool) {
	for _, p := range []plural{one, few, many, other} {
		if b, ok := strings.CutSuffix(id, "."+string(p)); ok {
			return b, true
		}
	}
	return id, false
}

func placeholders(s string) []string {
	p := placeholderRE.FindAllString(s, -1)
	sort.Strings(p)
	return slices.Compact(p)
}

// TestCatalogue_EveryLanguageHasEveryMessage holds each language to
// English: the same ids, plural ids with exactly the forms the language's
// rule produces, the same placeholders, nothing empty or left in English
// by accident (a message equal to English must be on the short list of
// words that are the same).
func TestCatalogue_EveryLanguageHasEveryMessage(t *testing.T) {
	plurals := map[string]bool{}
	for id := range en {
		if b, ok := pluralBase(id); ok {
			plurals[b] = true
		}
	}
	sameAsEnglish := map[string]bool{"date.format": true, "sign.field.where": true, "js.err.param": true, "size.mb": true,
		"sign.doc.untitled": true, "sign.docs.single": true, "sign.docs.multi": true, "sign.field.text": true}
	for _, lang := range Supported {
		cat := catalogue[lang]
		if cat == nil {
			t.Fatalf("%s: no catalogue", lang)
		}
		for id := range en {
			if b, ok := pluralBase(id); ok && plurals[b] {
				continue
			}
			msg, ok := cat[id]
			switch {
			case !ok:
				t.Errorf("%s: missing %q", lang, id)
			case strings.TrimSpace(msg) == "":
				t.Errorf("%s: %q is empty", lang, id)
			case !slices.Equal(placeholders(msg), placeholders(en[id])):
				t.Errorf("%s: %q has placeholders %v, English %v", lang, id, placeholders(msg), placeholders(en[id]))
			case lang != English && msg == en[id] && !sameAsEnglish[id] && !strings.HasPrefix(id, "date.month."):
				t.Errorf("%s: %q is the English text %q", lang, id, msg)
			}
		}
		for b := range plurals {
			for _, form := range pluralForms[lang] {
				msg, ok := cat[b+"."+string(form)]
				if !ok {
					t.Errorf("%s: missing plural form %s.%s", lang, b, form)
					continue
				}
				if !slices.Equal(placeholders(msg), placeholders(en[b+".other"])) {
					t.Errorf("%s: %s.%s has placeholders %v", lang, b, form, placeholders(msg))
				}
			}
		}
		for id := range cat {
			b, isPlural := pluralBase(id)
			if isPlural && plurals[b] {
				form := plural(strings.TrimPrefix(id, b+"."))
				if !slices.Contains(pluralForms[lang], form) {
					t.Errorf("%s: %q is a plural form the language does not use", lang, id)
				}
				continue
			}
			if _, ok := en[id]; !ok {
				t.Errorf("%s: %q is not an English message id", lang, id)
			}
		}
	}
}

func TestPluralRules(t *testing.T) {
	for _, tc := range []struct {
		lang Lang
		n    int
		want string
	}{
		{Russian, 1, "Осталась 1 попытка."}, {Russian, 3, "Осталось 3 попытки."}, {Russian, 5, "Осталось 5 попыток."},
		{Russian, 11, "Осталось 11 попыток."}, {Russian, 21, "Осталась 21 попытка."}, {Russian, 22, "Осталось 22 попытки."},
		{Russian, 112, "Осталось 112 попыток."},
		{Czech, 1, "Zbývá 1 pokus."}, {Czech, 4, "Zbývají 4 pokusy."}, {Czech, 5, "Zbývá 5 pokusů."},
		{French, 0, "Il vous reste 0 tentative."}, {French, 2, "Il vous reste 2 tentatives."},
		{English, 1, "1 attempt left."}, {English, 2, "2 attempts left."},
		{Kazakh, 3, "3 әрекет қалды."}, {Norwegian, 1, "Du har 1 forsøk igjen."},
	} {
		if got := For(tc.lang).N("js.attempts", tc.n); got != tc.want {
			t.Errorf("%s %d: %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

func TestDatesAndNumbers(t *testing.T) {
	at := time.Date(2026, 11, 2, 14, 5, 0, 0, time.UTC)
	for lang, want := range map[Lang]string{
		English:   "2 November 2026 at 14:05 UTC",
		French:    "2 novembre 2026 à 14:05 UTC",
		Czech:     "2. listopadu 2026 v 14:05 UTC",
		Norwegian: "2. november 2026 kl. 14:05 UTC",
		Kazakh:    "2 қараша 2026 ж., 14:05 UTC",
		Russian:   "2 ноября 2026 г. в 14:05 UTC",
	} {
		if got := For(lang).DateTime(at); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := For(English).Number(1234567); got != "1,234,567" {
		t.Errorf("en number %q", got)
	}
	if got := For(Czech).Decimal(2.5, 1); got != "2,5" {
		t.Errorf("cs decimal %q", got)
	}
	if got := For(Russian).Number(48213); got != "48\u00a0213" {
		t.Errorf("ru number %q", got)
	}
}

func TestParseAndNegotiate(t *testing.T) {
	for tag, want := range map[string]Lang{"fr": French, "fr-CA": French, "nb-NO": Norwegian, "no": Norwegian, "kk-KZ": Kazakh, "ru": Russian, "cs-CZ": Czech, "en-GB": English} {
		if got, err := Parse(tag); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tag, got, err, want)
		}
	}
	for _, bad := range []string{"", "de", "xx-", "english", " fr", "nn"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "en, fr, cs, nb, kk, ru") {
			t.Errorf("Parse(%q): %v does not list the supported languages", bad, err)
		}
	}
	for _, tc := range []struct {
		accept string
		chosen []string
		want   Lang
	}{
		{"de-DE,de;q=0.9,cs;q=0.8,en;q=0.5", nil, Czech},
		{"ru-RU,ru;q=0.9", []string{"", "kk"}, Kazakh},
		{"ru-RU", []string{"fr", "kk"}, French},
		{"de", nil, English},
		{"", nil, English},
		{"nb;q=0.4,fr;q=0.9", nil, French},
	} {
		if got := Negotiate(tc.accept, tc.chosen...); got != tc.want {
			t.Errorf("Negotiate(%q, %v) = %s, want %s", tc.accept, tc.chosen, got, tc.want)
		}
	}
}
