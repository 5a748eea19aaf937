package config_test

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/config"
)

const (
	tableBegin = "<!-- config:begin -->\n"
	tableEnd   = "<!-- config:end -->"
)

// The README's configuration table is the operators' reference: it must be
// exactly what config.Vars says, names, defaults and meanings, so a changed
// default or help text fails here until `go run ./scripts/configtable` runs.
func TestREADME_ConfigurationTableMatchesVars(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, tableBegin), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the config:begin … config:end markers")
	}
	got := strings.Split(s[i+len(tableBegin):j], "\n")
	want := strings.Split(config.MarkdownTable(), "\n")
	for k := 0; k < max(len(got), len(want)); k++ {
		var g, w string
		if k < len(got) {
			g = got[k]
		}
		if k < len(want) {
			w = want[k]
		}
		if g != w {
			t.Errorf("README.md configuration table, row %d:\n got %s\nwant %s\n(run `go run ./scripts/configtable`)", k, g, w)
		}
	}
}

// Every documented variable is read: set to something other than its
// default, it changes the configuration. And every variable Load reads is
// documented (a name missing from Vars would read as empty, its default
// undocumented).
func TestLoad_ReadsEveryDocumentedVariableAndNoOther(t *testing.T) {
	for _, v := range config.Vars {
		unset(t, v.Name)
	}
	base, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		other := v.Default + "x"
		switch v.Name {
		case "VELLUM_TRUSTED_PROXIES":
			other = "10.0.0.1" // a list of addresses: "x" does not load
		case "VELLUM_OIDC_PROVIDERS":
			other = `[{"name": "bankid", "issuer": "https://idp.example", "clientId": "vellum"}]` // JSON
		}
		if n, err := strconv.Atoi(v.Default); err == nil {
			other = strconv.Itoa(n + 1)
		} else if b, err := strconv.ParseBool(v.Default); err == nil {
			other = strconv.FormatBool(!b)
		} else if d, err := time.ParseDuration(v.Default); err == nil {
			other = (2*d + time.Second).String() // 0s (off) becomes 1s
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Setenv(v.Name, other)
			c, err := config.Load()
			if err != nil {
				t.Fatalf("%s=%s: %v", v.Name, other, err)
			}
			if reflect.DeepEqual(c, base) {
				t.Errorf("%s=%s changes nothing: Load does not read it", v.Name, other)
			}
		})
	}

	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, v := range config.Vars {
		documented[v.Name] = true
	}
	for _, m := range regexp.MustCompile(`(?:get|intVar|boolVar|durVar)\("(VELLUM_[A-Z0-9_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
		if !documented[m[1]] {
			t.Errorf("Load reads %s, which Vars does not document", m[1])
		}
	}
}
