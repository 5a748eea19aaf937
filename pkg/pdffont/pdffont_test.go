package pdffont_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// onePage writes a one-page PDF showing lines with e, the way a caller's
// writer would: content first, then the fonts through AddObject.
func onePage(e *pdffont.Embedder, content []byte) ([]byte, error) {
	var out bytes.Buffer
	var offs []int
	add := func(body []byte) int {
		offs = append(offs, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", len(offs), body)
		return len(offs)
	}
	out.WriteString("%PDF-1.7\n")
	add([]byte("<< /Type /Catalog /Pages 2 0 R >>"))
	offs = append(offs, 0) // the page tree comes last
	fonts, err := e.Write(add)
	if err != nil {
		return nil, err
	}
	res := ""
	for _, f := range fonts {
		res += fmt.Sprintf(" /%s %d 0 R", f.Name, f.Object)
	}
	c := add(fmt.Appendf(nil, "<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	p := add(fmt.Appendf(nil, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /Font <<%s >> >> >>", c, res))
	offs[1] = out.Len()
	fmt.Fprintf(&out, "2 0 obj\n<< /Type /Pages /Kids [%d 0 R] /Count 1 >>\nendobj\n", p)
	x := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, x)
	return out.Bytes(), nil
}

func render(t *testing.T, s pdffont.Stack, lines ...string) string {
	t.Helper()
	e := pdffont.NewEmbedder()
	var content []byte
	for i, l := range lines {
		content = fmt.Appendf(content, "BT 1 0 0 1 40 %d Tm ", 800-20*i)
		var err error
		if content, err = e.Show(content, s, l, 12); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		content = append(content, " ET\n"...)
	}
	pdf, err := onePage(e, content)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "t.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found on PATH: apt-get install poppler-utils")
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func TestShow_ExtractsExactlyWhatWasDrawn(t *testing.T) {
	lines := []string{
		"Антонín Dvořák Ұлы",
		"Dvor\u030Cák (decomposed)", // drawn with the precomposed ř, extracted as typed
		"A\u00A0B non-breaking ’ “ ” € œ",
		"Ελληνικά Қазақ тілі",
	}
	got := render(t, pdffont.Stack{pdffont.Sans()}, lines...)
	for _, l := range lines[:2] {
		if !strings.Contains(got, l) {
			t.Errorf("pdftotext lost %q:\n%q", l, got)
		}
	}
	if !strings.Contains(got, lines[3]) {
		t.Errorf("pdftotext lost %q", lines[3])
	}
}

func TestStack_FallsBackFontByFontAndRefusesWhatItCannotDraw(t *testing.T) {
	s := pdffont.Stack{pdffont.Mono(), pdffont.Sans()}
	if err := s.Check("0123abcdef Dvořák Қ"); err != nil {
		t.Errorf("mono with sans fallback: %v", err)
	}
	for _, tc := range []struct {
		text, reason, script string
	}{
		{"مرحبا", pdffont.ReasonRightToLeft, "Arabic"},
		{"Shalom שלום", pdffont.ReasonRightToLeft, "Hebrew"},
		{"नमस्ते", pdffont.ReasonNeedsShaping, "Devanagari"},
		{"สวัสดี", pdffont.ReasonNeedsShaping, "Thai"},
		{"王小明", pdffont.ReasonNoGlyph, "Han"},
	} {
		err := s.Check(tc.text)
		var ue *pdffont.UnsupportedError
		if !errors.As(err, &ue) || ue.Reason != tc.reason || ue.Script != tc.script || !errors.Is(err, pdffont.ErrUnsupported) {
			t.Errorf("%q: got %v, want %s (%s)", tc.text, err, tc.reason, tc.script)
		}
	}
}

// A CJK font from the operator (here Debian's Droid Sans Fallback, a
// TrueType font) draws the Han and Kana the built-in fonts lack.
func TestStack_DrawsHanWithAnOperatorFont(t *testing.T) {
	const path = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: apt-get install fonts-droid-fallback", err)
	}
	cjk, err := pdffont.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	s := pdffont.Stack{pdffont.Sans(), cjk}
	text := "王小明 (山田 太郎, たなか) Dvořák"
	if got := render(t, s, text); !strings.Contains(got, text) {
		t.Errorf("pdftotext: %q", got)
	}
	if err := s.Check("مرحبا"); err == nil {
		t.Error("a font with Arabic glyphs must not make right-to-left text drawable")
	}
}

func TestWrapAndTruncate_UseTheFontsAdvanceWidths(t *testing.T) {
	s := pdffont.Stack{pdffont.Sans()}
	wi, _ := s.Width("iiiiiiiiii", 10)
	ww, _ := s.Width("WWWWWWWWWW", 10)
	if wi*3 > ww {
		t.Errorf("ten i are %.1f pt, ten W %.1f pt: widths are not the font's", wi, ww)
	}
	lines, err := s.Wrap("Maria Anna Walpurgis Mozart-Dvořáková", 10, 90)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if w, _ := s.Width(l, 10); w > 90 {
			t.Errorf("line %q is %.1f pt wide, limit 90", l, w)
		}
	}
	if strings.Join(lines, " ") != "Maria Anna Walpurgis Mozart-Dvořáková" {
		t.Errorf("wrapping lost text: %q", lines)
	}
	long, err := s.Wrap(strings.Repeat("0123456789abcdef", 8), 10, 100)
	if err != nil || len(long) < 3 || strings.Join(long, "") != strings.Repeat("0123456789abcdef", 8) {
		t.Errorf("a hash wider than the line is split exactly: %q, %v", long, err)
	}
	cut, _ := s.Truncate("Hubert Blaine Wolfeschlegelsteinhausenbergerdorff", 10, 100)
	if w, _ := s.Width(cut, 10); !strings.HasSuffix(cut, "…") || w > 100 {
		t.Errorf("truncated to %q (%.1f pt)", cut, w)
	}
}

func TestSignatureStack_OneFaceForTheWholeName(t *testing.T) {
	if s := pdffont.SignatureStack("Jane Doe"); len(s) != 1 || s[0] != pdffont.Handwriting() {
		t.Error("Latin name not in the handwriting face")
	}
	if s := pdffont.SignatureStack("Jana Dvořáková"); s[0] != pdffont.SerifItalic() {
		t.Error("a name with ř must not mix handwriting and another face")
	}
}

func ExampleEmbedder_Show() {
	e := pdffont.NewEmbedder()
	content, _ := e.Show([]byte("BT 72 720 Td "), pdffont.Stack{pdffont.Sans()}, "Dvořák", 12)
	content = append(content, " ET"...)
	fmt.Println(string(content))
	// Output: BT 72 720 Td /F1 12 Tf <000100020003000400050006> Tj ET
}
