package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's minified build, installed from test/e2e/axe's
// pinned package-lock.json. It is injected into the page by the test
// only: Vellum never serves it.
var axeSource = sync.OnceValues(func() (string, error) {
	dir := filepath.Join("axe")
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &npmError{err: err, out: string(out)}
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

type npmError struct {
	err error
	out string
}

func (e *npmError) Error() string {
	return "npm ci in test/e2e/axe (apt-get install npm): " + e.err.Error() + ": " + e.out
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAccessibility runs axe-core (WCAG 2.1 A/AA and best practices) on
// the page as it is and fails on any serious or critical violation.
func checkAccessibility(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	type result struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](`axe.run(document).then(function (r) {
		return {passes: r.passes.length, violations: r.violations.map(function (v) {
			return {id: v.id, impact: v.impact || '', help: v.help, nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(' '); })};
		})};
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	if res.Passes == 0 {
		t.Fatalf("axe-core checked nothing on %s", state)
	}
	t.Logf("axe %s: %d rules pass, %d violations of any impact", state, res.Passes, len(res.Violations))
	for _, v := range res.Violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			t.Logf("axe %s (%s, not failing): %s at %s", state, v.Impact, v.ID, strings.Join(v.Nodes, "; "))
			continue
		}
		t.Errorf("axe %s on %s: %s (%s) at %s", v.Impact, state, v.ID, v.Help, strings.Join(v.Nodes, "; "))
	}
}
