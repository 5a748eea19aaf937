package signerpage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/i18n/i18ntest"
)

// TestTemplates_EveryStringGoesThroughTheCatalogue: no text a person
// reads is in a template but the brand and symbols.
func TestTemplates_EveryStringGoesThroughTheCatalogue(t *testing.T) {
	i18ntest.EveryStringGoesThroughTheCatalogue(t, templateFS, "templates", "Vellum", "PDF", "↗", "·")
}

// TestScript_HasNoUserFacingLiterals: signer.js shows only catalogue
// messages (t('js.…')): no string literal of words with a space.
func TestScript_HasNoUserFacingLiterals(t *testing.T) {
	b, err := os.ReadFile("assets/signer.js")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?m)^\s*//.*$`).ReplaceAllString(string(b), "")
	for _, m := range regexp.MustCompile(`'([^'\n]*)'`).FindAllStringSubmatch(code, -1) {
		if regexp.MustCompile(`^[A-Z][a-z]+ [a-z]`).MatchString(m[1]) {
			t.Errorf("signer.js: user-facing literal %q", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`t\('(js\.[a-z.]+)'`).FindAllStringSubmatch(code, -1) {
		if _, ok := i18n.For(i18n.English).Messages("js.")[m[1]]; !ok {
			if _, ok := i18n.For(i18n.English).Messages("js.")[m[1]+".other"]; !ok {
				t.Errorf("signer.js uses %s, which the catalogue lacks", m[1])
			}
		}
	}
}

func TestPage_SpeaksTheChosenLanguage(t *testing.T) {
	link := func(language, locale string) LinkFunc {
		return func(context.Context, string) (Link, error) { return Link{Language: language, Locale: locale}, nil }
	}
	for _, tc := range []struct {
		name, accept string
		link         LinkFunc
		lang, phrase string
	}{
		{"browser", "cs-CZ,cs;q=0.9,en;q=0.5", nil, "cs", "Žádost o podpis"},
		{"envelope over browser", "cs", link("ru", ""), "ru", "Запрошена подпись"},
		{"recipient over envelope", "cs", link("ru", "kk"), "kk", "Қол қою сұралады"},
		{"Norwegian", "nb-NO", nil, "nb", "Signatur etterspurt"},
		{"French", "fr-FR", nil, "fr", "Signature demandée"},
		{"unsupported falls back to English", "de-DE", nil, "en", "Signature requested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(&fakeAPI{status: 200, body: view(nil)}, nil, tc.link)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/s/"+token, nil)
			req.Header.Set("Accept-Language", tc.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			b, _ := io.ReadAll(rec.Result().Body)
			body := string(b)
			if !strings.Contains(body, `<html lang="`+tc.lang+`">`) || rec.Result().Header.Get("Content-Language") != tc.lang {
				t.Errorf("page language: Content-Language %q, want %s", rec.Result().Header.Get("Content-Language"), tc.lang)
			}
			if !strings.Contains(body, tc.phrase) {
				t.Errorf("page lacks %q", tc.phrase)
			}
			if tc.lang != "en" && strings.Contains(body, "Your signature") {
				t.Errorf("a %s page carries English", tc.lang)
			}
			if !strings.Contains(body, `data-messages="{`) {
				t.Error("the script gets no messages")
			}
		})
	}
}

func TestPage_LocalisesDatesAndCounts(t *testing.T) {
	h, err := New(&fakeAPI{status: 200, body: view(func(v map[string]any) {
		sub(v, "recipient")["status"] = "SIGNED"
		sub(v, "recipient")["signedAt"] = "2025-11-23T10:00:00Z"
	})}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/s/"+token, nil)
	req.Header.Set("Accept-Language", "ru")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	if !strings.Contains(string(b), "23 ноября 2025 г. в 10:00 UTC") {
		t.Errorf("signed date not in Russian: %s", b)
	}
	l := i18n.For(i18n.Czech)
	if got := documentMeta(l, 3, 48213); got != "PDF · 3 strany · 48 kB" {
		t.Errorf("cs meta %q", got)
	}
	if got := documentMeta(i18n.For(i18n.Russian), 5, 3<<20); got != "PDF · 5 страниц · 3 МБ" {
		t.Errorf("ru meta %q", got)
	}
}
