package envelope

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The package's rules never query the database themselves: every GORM call
// is a named method of the store (store.go, store_*.go), so a reader finds
// a rule's queries in one hop and the rule files read as rules.
func TestQueriesLiveInTheStore(t *testing.T) {
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "store") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "gorm.io/") {
				t.Errorf("%s imports %s: its queries belong in the store", name, p)
			}
		}
		if strings.Contains(string(src), ".Conn(ctx)") {
			t.Errorf("%s opens a database connection: its queries belong in the store", name)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked %d files; the package's files were not found", checked)
	}
}
