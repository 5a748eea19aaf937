// Package padestest finds the real-world PDFs that tests of PDF signing and
// validation use: pdfcpu's test corpus, wherever the build resolves the
// github.com/pdfcpu/pdfcpu module (module cache, GOFLAGS, vendor directory).
package padestest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// PdfcpuDir returns the pdfcpu module's pkg directory, as `go list -m`
// resolves it: testdata/ holds about fifty PDFs from many producers,
// samples/signatures/ PDFs signed by other tools.
var PdfcpuDir = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pdfcpu/pdfcpu").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return "", fmt.Errorf("locate github.com/pdfcpu/pdfcpu with go list -m (run `go mod download github.com/pdfcpu/pdfcpu`): %v", err)
	}
	return filepath.Join(dir, "pkg"), nil
})
