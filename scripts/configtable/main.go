// Command configtable rewrites README.md's configuration table from
// internal/config.Vars, between the config:begin and config:end markers.
//
//	go run ./scripts/configtable
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/vellum-sign/vellum/internal/config"
)

const (
	begin = "<!-- config:begin -->"
	end   = "<!-- config:end -->"
)

func main() {
	b, err := os.ReadFile("README.md")
	if err != nil {
		fail(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		fail(fmt.Errorf("README.md lacks the %s … %s markers", begin, end))
	}
	out := s[:i] + begin + "\n" + config.MarkdownTable() + s[j:]
	if err := os.WriteFile("README.md", []byte(out), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "configtable:", err)
	os.Exit(1)
}
