package pades_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// drawnSignature is a transparent PNG with a diagonal stroke.
func drawnSignature() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 120, 40))
	for x := 0; x < 120; x++ {
		y := 5 + x*30/120
		for dy := 0; dy < 3; dy++ {
			img.Set(x, y+dy, color.NRGBA{0, 0, 128, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestSign_VisibleWithImageRendersOnPage(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Visible = &pades.Visible{Page: 2, Rect: pades.Rect{X: 150, Y: 80, W: 220, H: 60}, Image: drawnSignature()}
	out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "bookletTest.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	requirePdfsigValid(t, out, 1)
	if qpdfCheck(t, out) != 0 {
		t.Error("qpdf --check warnings")
	}
	// The appearance text is on page 2, extracted by poppler's renderer.
	if _, err := exec.LookPath("pdftotext"); err == nil {
		txt, err := exec.Command("pdftotext", "-f", "2", "-l", "2", out, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(txt), "Alice Example") {
			t.Errorf("page 2 text lacks the signer name:\n%s", txt)
		}
	}
	opts.Visible.Page = 999
	if _, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "bookletTest.pdf"), opts); err == nil {
		t.Error("page 999 of a 64-page file accepted")
	}
}
