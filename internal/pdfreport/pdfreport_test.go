package pdfreport_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/pdfreport"
)

// names are people's names and typographic characters in the scripts our
// users write: Czech, Polish, Vietnamese, Azerbaijani, French, Greek,
// Russian and Kazakh Cyrillic.
var names = []string{
	"Антонín Dvořák Ұлы",
	"Łukasz Żółć-Ściegienny",
	"Đặng Thị Hương",
	"Şəhriyar Məmmədov",
	"François d’Œuvre “quoted” – 12 € œ",
	"Ελευθέριος Βενιζέλος",
	"Пётр Ильич Чайковский",
	"Әлихан Бөкейхан, Ғабит Қасым, Ңң Өмір Ұлы Үміт Һһ Іле",
	"Søren Åberg Ægir Gößmann",
}

func pdftotext(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext not found on PATH: apt-get install poppler-utils")
	}
	p := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func lines(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[strings.TrimSpace(l)] = true
	}
	return m
}

func TestNamesInEveryScriptRoundTripThroughPdftotext(t *testing.T) {
	d := pdfreport.New("Names – Имена – Ονόματα")
	d.Title("Signers")
	for _, n := range names {
		d.Para(n)
	}
	d.KV("Signer", names[0])
	pdf, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	got := lines(pdftotext(t, pdf))
	for _, n := range names {
		if !got[n] {
			t.Errorf("pdftotext lost %q; got lines:\n%v", n, got)
		}
	}
	if !got["Signer "+names[0]] && !got["Signer"] {
		t.Errorf("key/value line missing: %v", got)
	}
	out, err := exec.Command("pdffonts", writeTemp(t, pdf)).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts: %v\n%s", err, out)
	}
	// Every font is an embedded, subset CID TrueType font with a ToUnicode map.
	rows := strings.Split(strings.TrimSpace(string(out)), "\n")[2:]
	if len(rows) < 2 {
		t.Fatalf("pdffonts lists %d fonts:\n%s", len(rows), out)
	}
	for _, r := range rows {
		f := strings.Fields(r)
		if !strings.Contains(r, "CID TrueType") || !strings.Contains(f[0], "+Noto") || f[len(f)-5] != "yes" || f[len(f)-4] != "yes" || f[len(f)-3] != "yes" {
			t.Errorf("font not an embedded subset with ToUnicode: %s", r)
		}
	}
}

func writeTemp(t *testing.T, pdf []byte) string {
	p := filepath.Join(t.TempDir(), "f.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnsupportedScriptsPrintAsCodePointsNotQuestionMarks(t *testing.T) {
	d := pdfreport.New("t")
	d.Para("Declined: שלום and مرحبا and 中文")
	pdf, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	txt := pdftotext(t, pdf)
	for _, want := range []string{"[U+05E9]", "[U+0645]", "[U+4E2D]", "Declined:"} {
		if !strings.Contains(txt, want) {
			t.Errorf("missing %q in %q", want, txt)
		}
	}
	if strings.Contains(txt, "?") {
		t.Errorf("a question mark was printed: %q", txt)
	}
}

func TestLongValuesWrapWithinTheMargins(t *testing.T) {
	d := pdfreport.New("t")
	long := strings.Repeat("Dvořák ", 40)
	d.KV("Name", long)
	d.Mono(strings.Repeat("0123456789abcdef", 12), 0)
	pdf, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	txt := pdftotext(t, pdf)
	if got := strings.Count(txt, "Dvořák"); got != 40 {
		t.Errorf("%d of 40 words survived wrapping:\n%s", got, txt)
	}
	if !strings.Contains(strings.ReplaceAll(strings.ReplaceAll(txt, "\n", ""), " ", ""), strings.Repeat("0123456789abcdef", 12)) {
		t.Errorf("hash was not kept whole across lines:\n%s", txt)
	}
}
