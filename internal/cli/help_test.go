package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/cli"
	"github.com/vellum-sign/vellum/internal/config"
)

// `--help` of every server command lists each variable with its meaning
// and its default, the same text as the README's table.
func TestHelp_ListsEveryVariableWithHelpAndDefault(t *testing.T) {
	for _, cmd := range []string{"serve", "worker", "dev"} {
		var stdout, stderr bytes.Buffer
		if code := cli.Main([]string{cmd, "--help"}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", cmd, code, stderr.String())
		}
		lines := strings.Split(stderr.String(), "\n")
		for _, v := range config.Vars {
			want := v.Help
			if v.Default != "" {
				want += " (default " + v.Default + ")"
			}
			found := false
			for _, l := range lines {
				if f := strings.Fields(l); len(f) > 0 && f[0] == v.Name {
					found = true
					if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), v.Name)); got != want {
						t.Errorf("%s --help, %s:\n got %s\nwant %s", cmd, v.Name, got, want)
					}
				}
			}
			if !found {
				t.Errorf("%s --help does not list %s", cmd, v.Name)
			}
		}
	}
}
