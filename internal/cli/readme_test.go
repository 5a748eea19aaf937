package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's architecture section is how a newcomer finds their way: it
// names every package of the tree, and every file its route table points
// at exists.
func TestREADME_ArchitectureMatchesTheTree(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "\n## Architecture\n"), strings.Index(s, "\n## Configuration\n")
	if i < 0 || j < i {
		t.Fatal("README.md lacks the Architecture section before Configuration")
	}
	arch := s[i:j]
	for _, root := range []string{"internal", "pkg"} {
		dirs, err := os.ReadDir(filepath.Join("../..", root))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			name := d.Name()
			named := regexp.MustCompile("`" + root + "/" + regexp.QuoteMeta(name) + "[`/]").MatchString(arch)
			if !named && !(root == "pkg" && strings.Contains(arch, "`"+name+"`")) {
				t.Errorf("the architecture section does not name %s/%s", root, name)
			}
		}
	}
	// Files in the route table: `pkg/file.go` under internal/.
	for _, m := range regexp.MustCompile("`([a-z]+(?:/[a-z]+)?/[a-z_]+\\.go)`").FindAllStringSubmatch(arch, -1) {
		if _, err := os.Stat(filepath.Join("../../internal", m[1])); err != nil {
			t.Errorf("the architecture section points at internal/%s, which does not exist", m[1])
		}
	}
}
