package pades_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdffont"
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

// blankPDF writes a one-page PDF whose page tree node carries /Rotate and
// the boxes, so the page inherits them (§7.7.3.4), as scanners write it.
func blankPDF(t testing.TB, rotate int, cropBox string) string {
	t.Helper()
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	crop := ""
	if cropBox != "" {
		crop = " /CropBox " + cropBox
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [3 0 R] /Count 1 /Rotate %d /MediaBox [0 0 612 792]%s >>", rotate, crop))
	obj("<< /Type /Page /Parent 2 0 R /Resources << >> /Contents 4 0 R >>")
	obj("<< /Length 0 >>\nstream\n\nendstream")
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, x)
	p := filepath.Join(t.TempDir(), fmt.Sprintf("blank-r%d.pdf", rotate))
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pageText(t testing.TB, pdf string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found on PATH: apt-get install poppler-utils")
	}
	out, err := exec.Command("pdftotext", append(append([]string{"-enc", "UTF-8"}, args...), pdf, "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// flat joins all whitespace, so wrapped lines compare as one text.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

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
	if txt := pageText(t, out, "-f", "2", "-l", "2"); !strings.Contains(flat(txt), "Digitally signed by Alice Example") {
		t.Errorf("page 2 text lacks the signer name:\n%s", txt)
	}
	opts.Visible.Page = 999
	_, err = f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "bookletTest.pdf"), opts)
	var pe *pades.PlacementError
	if !errors.As(err, &pe) || pe.Pages != 64 || !strings.Contains(err.Error(), "has 64 pages") {
		t.Errorf("page 999 of a 64-page file: %v", err)
	}
}

// names are signers' names in Latin with diacritics, Greek, Cyrillic and
// Kazakh Cyrillic, with typographic quotes and signs.
var names = []string{
	"Антонín Dvořák Ұлы",
	"Łukasz Żółć-Ściegienny",
	"Đặng Thị Hương",
	"Ελευθέριος Βενιζέλος",
	"Пётр Ильич Чайковский",
	"Әлихан Ғабитұлы Қасымов Ңң Өмір Үміт Һ Іле",
	"Zoë d’Œuvre “Ltd” 12 € œ",
}

func TestSign_VisibleNamesInEveryScriptRoundTrip(t *testing.T) {
	f := newFixture(t)
	in := blankPDF(t, 0, "")
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			opts := f.options()
			opts.Name, opts.Reason = n, "Signed as “"+n+"”"
			opts.Visible = &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 500, W: 500, H: 160}, Signature: n}
			out, err := f.signFile(t, in, opts)
			if err != nil {
				t.Fatal(err)
			}
			requirePdfsigValid(t, out, 1)
			txt := flat(pageText(t, out))
			for _, want := range []string{n, "Digitally signed by " + n, "Reason: Signed as “" + n + "”"} {
				if !strings.Contains(txt, want) {
					t.Errorf("pdftotext lacks %q:\n%s", want, txt)
				}
			}
			if strings.Contains(txt, "?") {
				t.Errorf("a character became '?': %s", txt)
			}
		})
	}
}

func TestSign_TypedSignatureUsesHandwritingWhenItCan(t *testing.T) {
	f := newFixture(t)
	in := blankPDF(t, 0, "")
	for _, tc := range []struct{ typed, font string }{
		{"Jane Q. Public", "Kristi"},
		{"Antonín Dvořák", "NotoSerif-Italic"}, // Kristi has no ř
	} {
		opts := f.options()
		opts.Visible = &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 500, W: 300, H: 100}, Signature: tc.typed}
		out, err := f.signFile(t, in, opts)
		if err != nil {
			t.Fatal(err)
		}
		fonts, err := exec.Command("pdffonts", out).CombinedOutput()
		if err != nil {
			t.Fatalf("pdffonts: %v\n%s", err, fonts)
		}
		if !strings.Contains(string(fonts), "+"+tc.font) || !strings.Contains(string(fonts), "CID TrueType") {
			t.Errorf("%q: no embedded %s subset:\n%s", tc.typed, tc.font, fonts)
		}
		if txt := flat(pageText(t, out)); !strings.HasPrefix(txt, tc.typed) {
			t.Errorf("typed signature %q not first on the stamp: %s", tc.typed, txt)
		}
	}
}

// inkBox renders page 1 and returns the bounding box of its dark pixels.
func inkBox(t testing.TB, pdf string) image.Rectangle {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "page")
	if out, err := exec.Command("pdftoppm", "-r", "72", "-png", "-singlefile", pdf, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	data, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	box := image.Rectangle{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x8000 {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func TestSign_VisibleReadsUprightOnRotatedPages(t *testing.T) {
	f := newFixture(t)
	for _, rot := range []int{0, 90, 180, 270} {
		t.Run(strconv.Itoa(rot), func(t *testing.T) {
			// A box that is wide as the viewer sees the page.
			rect := pades.Rect{X: 100, Y: 200, W: 300, H: 70}
			if rot == 90 || rot == 270 {
				rect = pades.Rect{X: 100, Y: 200, W: 70, H: 300}
			}
			opts := f.options()
			opts.Visible = &pades.Visible{Page: 1, Rect: rect, Signature: "Alice Example"}
			out, err := f.signFile(t, blankPDF(t, rot, ""), opts)
			if err != nil {
				t.Fatal(err)
			}
			requirePdfsigValid(t, out, 1)
			// Upright text fills a wide, low band; sideways text a tall one.
			ink := inkBox(t, out)
			if ink.Empty() || ink.Dx() < 3*ink.Dy() {
				t.Errorf("/Rotate %d: the stamp's ink spans %v (%d×%d px): not upright", rot, ink, ink.Dx(), ink.Dy())
			}
			if txt := flat(pageText(t, out)); !strings.Contains(txt, "Digitally signed by Alice Example") {
				t.Errorf("/Rotate %d: text reads %q", rot, txt)
			}
		})
	}
}

var wordBox = regexp.MustCompile(`<word [^>]*yMin="([0-9.]+)"[^>]*yMax="([0-9.]+)"`)

// wordHeights returns the heights of the words pdftotext -bbox finds.
func wordHeights(t testing.TB, pdf string) []float64 {
	var hs []float64
	for _, m := range wordBox.FindAllStringSubmatch(pageText(t, pdf, "-bbox"), -1) {
		y0, _ := strconv.ParseFloat(m[1], 64)
		y1, _ := strconv.ParseFloat(m[2], 64)
		hs = append(hs, y1-y0)
	}
	return hs
}

func TestSign_LongNamesWrapThenEndInAnEllipsis(t *testing.T) {
	f := newFixture(t)
	in := blankPDF(t, 0, "")
	long := "Maria Anna Walpurgis Ignatia Mozart-Dvořáková von Hohenzollern-Sigmaringen"
	for _, tc := range []struct {
		name     string
		h        float64
		ellipsis bool
	}{
		{long, 60, false},
		{strings.Repeat(long+" ", 6), 40, true},
	} {
		opts := f.options()
		opts.Name = tc.name
		opts.Visible = &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 500, W: 160, H: tc.h}}
		out, err := f.signFile(t, in, opts)
		if err != nil {
			t.Fatal(err)
		}
		txt := flat(pageText(t, out))
		if !tc.ellipsis && !strings.Contains(txt, "Digitally signed by "+tc.name) {
			t.Errorf("wrapped name not whole: %q", txt)
		}
		if tc.ellipsis != strings.Contains(txt, "…") {
			t.Errorf("ellipsis %v expected: %q", tc.ellipsis, txt)
		}
		// Noto's line box is 1.36 em: 6 pt text makes ≥ 8 pt high words.
		for _, h := range wordHeights(t, out) {
			if h < 6*1.3 {
				t.Errorf("a word is %.1f pt high: shrunk below the 6 pt minimum", h)
			}
		}
	}
}

func TestSign_VisibleBoxOffThePageIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		crop string
		rect pades.Rect
		ok   bool
	}{
		{"right of the page", "", pades.Rect{X: 700, Y: 100, W: 100, H: 50}, false},
		{"below the page", "", pades.Rect{X: 100, Y: -80, W: 100, H: 50}, false},
		{"outside the CropBox", "[0 0 300 300]", pades.Rect{X: 350, Y: 100, W: 100, H: 50}, false},
		{"half on the page", "", pades.Rect{X: 560, Y: 100, W: 100, H: 50}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.options()
			opts.Visible = &pades.Visible{Page: 1, Rect: tc.rect}
			_, err := f.signFile(t, blankPDF(t, 0, tc.crop), opts)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *pades.PlacementError
			if !errors.As(err, &pe) || pe.Page != 1 || pe.Rect != tc.rect {
				t.Fatalf("got %v, want a *PlacementError", err)
			}
			if !strings.Contains(err.Error(), "lies entirely outside page 1") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

func TestSign_RightToLeftNamesAreRefusedNotGarbled(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Name = "مريم"
	opts.Visible = &pades.Visible{Page: 1, Rect: pades.Rect{X: 50, Y: 500, W: 300, H: 60}}
	_, err := f.signFile(t, blankPDF(t, 0, ""), opts)
	var ue *pdffont.UnsupportedError
	if !errors.As(err, &ue) || ue.Reason != pdffont.ReasonRightToLeft || ue.Script != "Arabic" {
		t.Fatalf("got %v, want a right-to-left refusal", err)
	}
}
