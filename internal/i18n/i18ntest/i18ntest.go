// Package i18ntest holds the check the page packages' tests share: that
// no text a person reads in a template bypasses the i18n catalogue.
package i18ntest

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

var (
	actions   = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	tags      = regexp.MustCompile(`(?s)<[^>]*>`)
	words     = regexp.MustCompile(`\p{L}{2,}`)
	readAttrs = regexp.MustCompile(`(aria-label|title|placeholder|alt)="([^"{]+)"`)
)

// EveryStringGoesThroughTheCatalogue strips the template actions and the
// markup from every file of dir in fsys: what is left is text a person
// reads, and none may be there but the allowed words (the brand,
// symbols). The attributes people read (aria-label, title, placeholder,
// alt) must come from template actions too.
func EveryStringGoesThroughTheCatalogue(t testing.TB, fsys fs.FS, dir string, allowed ...string) {
	t.Helper()
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatalf("%s: no templates", dir)
	}
	pairs := make([]string, 0, 2*len(allowed))
	for _, a := range allowed {
		pairs = append(pairs, a, "")
	}
	allow := strings.NewReplacer(pairs...)
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		text := allow.Replace(tags.ReplaceAllString(actions.ReplaceAllString(string(b), ""), " "))
		if w := words.FindAllString(text, -1); len(w) > 0 {
			t.Errorf("%s: text outside the catalogue: %v", e.Name(), w)
		}
		for _, m := range readAttrs.FindAllStringSubmatch(string(b), -1) {
			t.Errorf("%s: %s=%q is not from the catalogue", e.Name(), m[1], m[2])
		}
	}
}
