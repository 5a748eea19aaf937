package pades_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// TestSign_PdfcpuTestdata signs every PDF of pdfcpu's testdata folder and
// checks each result with pdfsig and qpdf.
func TestSign_PdfcpuTestdata(t *testing.T) {
	f := newFixture(t)
	files := testdataPDFs(t)
	signed, refused := 0, 0
	for _, in := range files {
		base := filepath.Base(in)
		out, err := f.signFile(t, in, f.options())
		var pe *pades.Error
		if errors.As(err, &pe) && pe.Code == pades.CodeEncrypted {
			refused++
			t.Logf("%s: refused: %v", base, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		requirePdfsigValid(t, out, 1)
		before := qpdfCheck(t, in)
		if after := qpdfCheck(t, out); after > before {
			t.Errorf("%s: qpdf --check got worse after signing (%d -> %d)", base, before, after)
		}
		signed++
	}
	t.Logf("signed and validated %d of %d pdfcpu testdata files (%d refused as encrypted)", signed, len(files), refused)
	if signed < len(files)*9/10 {
		t.Fatalf("only %d of %d files signed", signed, len(files))
	}
}

// TestSign_QpdfVariants signs files rewritten by qpdf with object streams,
// linearization, QDF and classic tables.
func TestSign_QpdfVariants(t *testing.T) {
	f := newFixture(t)
	src := filepath.Join(pdfcpuDir(), "testdata", "bookletTest.pdf")
	for _, v := range []struct {
		name string
		args []string
	}{
		{"objstm", []string{"--object-streams=generate"}},
		{"linearized", []string{"--linearize"}},
		{"linearized-objstm", []string{"--linearize", "--object-streams=generate"}},
		{"qdf", []string{"--qdf"}},
		{"table", []string{"--object-streams=disable"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			in := filepath.Join(f.dir, v.name+".pdf")
			args := append(append([]string{}, v.args...), src, in)
			if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
				t.Fatalf("qpdf %v: %v\n%s", args, err, out)
			}
			out, err := f.signFile(t, in, f.options())
			if err != nil {
				t.Fatal(err)
			}
			requirePdfsigValid(t, out, 1)
			if qpdfCheck(t, out) != 0 {
				t.Error("qpdf --check reports warnings")
			}
		})
	}
}

func TestSign_AlreadySignedByOtherTools(t *testing.T) {
	f := newFixture(t)
	files, _ := filepath.Glob(filepath.Join(pdfcpuDir(), "samples", "signatures", "*", "*.pdf"))
	if len(files) == 0 {
		t.Fatal("pdfcpu signature samples not found")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			before := pdfsig(t, in)
			out, err := f.signFile(t, in, f.options())
			if filepath.Base(in) == "sample2.pdf" {
				// Certified by its author with DocMDP P=1.
				if !errors.Is(err, pades.ErrLocked) {
					t.Fatalf("got %v, want LOCKED", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after := requirePdfsigValid(t, out, len(before)+1)
			for i, b := range before {
				if b.Valid != after[i].Valid {
					t.Errorf("signature #%d validity changed from %v to %v", i+1, b.Valid, after[i].Valid)
				}
			}
			qpdfCheck(t, out)
		})
	}
}

func TestSign_ThreeSequentialSignaturesStayValid(t *testing.T) {
	f := newFixture(t)
	in := filepath.Join(pdfcpuDir(), "testdata", "Acroforms2.pdf")
	for i := 1; i <= 3; i++ {
		opts := f.options()
		opts.Name = []string{"", "Alice", "Bob", "Carol"}[i]
		out, err := f.signFile(t, in, opts)
		if err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
		next := filepath.Join(f.dir, "seq"+string(rune('0'+i))+".pdf")
		if err := os.Rename(out, next); err != nil {
			t.Fatal(err)
		}
		in = next
		res := requirePdfsigValid(t, in, i)
		if !res[i-1].Total {
			t.Errorf("signature %d does not cover the whole file", i)
		}
		if qpdfCheck(t, in) != 0 {
			t.Errorf("qpdf --check warnings after signature %d", i)
		}
	}
}

func TestSign_RefusesEncryptedWithCode(t *testing.T) {
	f := newFixture(t)
	src := filepath.Join(pdfcpuDir(), "testdata", "Walden.pdf")
	enc := filepath.Join(f.dir, "enc.pdf")
	if out, err := exec.Command("qpdf", "--encrypt", "user", "owner", "256", "--", src, enc).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --encrypt: %v\n%s", err, out)
	}
	fh, _ := os.Open(enc)
	defer fh.Close()
	st, _ := fh.Stat()
	var buf bytes.Buffer
	err := pades.Sign(context.Background(), fh, st.Size(), &buf, f.options())
	if !errors.Is(err, pades.ErrEncrypted) {
		t.Fatalf("got %v, want ErrEncrypted", err)
	}
	var pe *pades.Error
	if !errors.As(err, &pe) || pe.Code != 1 || pe.Code.String() != "ENCRYPTED" {
		t.Fatalf("error %v does not carry code ENCRYPTED=1", err)
	}
	if buf.Len() != 0 {
		t.Fatal("output written for a refused document")
	}
}

func TestSign_RefusesDocMDPNoChanges(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.DocMDP = 1
	in := filepath.Join(pdfcpuDir(), "testdata", "Walden.pdf")
	certified, err := f.signFile(t, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	requirePdfsigValid(t, certified, 1)
	_, err = f.signFile(t, certified, f.options())
	if !errors.Is(err, pades.ErrLocked) || !strings.Contains(err.Error(), "LOCKED") {
		t.Fatalf("got %v, want LOCKED", err)
	}
}

// Page dictionaries are rewritten when a signature field joins /Annots:
// their numbers must come out as they went in, or the page changes size
// (HL1396's /MediaBox has 12 decimals) and renders differently.
func TestSign_CopiesNumbersByteForByte(t *testing.T) {
	f := newFixture(t)
	in := filepath.Join(pdfcpuDir(), "testdata", "HL1396.pdf")
	out, err := f.signFile(t, in, f.options())
	if err != nil {
		t.Fatal(err)
	}
	requirePdfsigValid(t, out, 1)
	signed, _ := os.ReadFile(out)
	orig, _ := os.ReadFile(in)
	if !bytes.Contains(signed[len(orig):], []byte("/MediaBox [0 0 611.519958000000 792.000000000000]")) {
		t.Errorf("rewritten page does not carry the original /MediaBox tokens")
	}
	render := func(pdf, prefix string) []byte {
		if o, err := exec.Command("pdftoppm", "-r", "40", "-f", "1", "-l", "1", pdf, prefix).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm (apt-get install poppler-utils): %v\n%s", err, o)
		}
		matches, _ := filepath.Glob(prefix + "*.ppm")
		if len(matches) != 1 {
			t.Fatalf("pdftoppm wrote %v", matches)
		}
		b, _ := os.ReadFile(matches[0])
		return b
	}
	if !bytes.Equal(render(in, filepath.Join(f.dir, "orig")), render(out, filepath.Join(f.dir, "signed"))) {
		t.Error("page 1 renders differently after an invisible signature")
	}
}

// A DSS in a file older than PDF 1.7 comes with the ESIC developer
// extension and a /Version bump (ETSI EN 319 142-1), and the file stays
// clean for qpdf and valid for pdfsig.
func TestSign_DeclaresPAdESInOlderFiles(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Level, opts.Timestamper, opts.Revocation = pades.LevelBLT, f.tsa, f.revocation
	for _, src := range []string{"text_annotations.pdf", "read.go.pdf", "bookletTest.pdf"} { // 1.3, 1.4, 1.5
		t.Run(src, func(t *testing.T) {
			out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", src), opts)
			if err != nil {
				t.Fatal(err)
			}
			requirePdfsigValid(t, out, 1)
			if qpdfCheck(t, out) != 0 {
				t.Error("qpdf --check warnings")
			}
			js, err := exec.Command("qpdf", "--json=2", "--json-key=qpdf", out).Output()
			if err != nil {
				t.Fatalf("qpdf --json: %v", err)
			}
			for _, want := range []string{`"/Version": "/1.7"`, `"/ESIC"`, `"/BaseVersion": "/1.7"`, `"/ExtensionLevel": 1`} {
				if !bytes.Contains(js, []byte(want)) {
					t.Errorf("catalog lacks %s", want)
				}
			}
		})
	}
}
