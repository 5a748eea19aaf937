package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/config"
)

// The README's configuration table is the operators' reference; it must list
// every variable Load reads.
func TestREADME_ListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README.md configuration table lacks %s", v.Name)
		}
	}
}
