package pades_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// damages are the breakages qpdf, pdf.js and Acrobat repair, made from a
// good file.
var damages = []struct {
	name   string
	damage func(pdf []byte) []byte
}{
	{"shifted xref offsets", func(pdf []byte) []byte {
		// Bytes inserted after the header move every object; the
		// cross-reference offsets and startxref still point where they were.
		i := bytes.IndexByte(pdf, '\n') + 1
		return append(append(append([]byte{}, pdf[:i]...), "% inserted by a careless mail gateway\n"...), pdf[i:]...)
	}},
	{"missing startxref", func(pdf []byte) []byte {
		loc := regexp.MustCompile(`startxref\s+\d+\s*`).FindAllIndex(pdf, -1)
		last := loc[len(loc)-1]
		return append(append([]byte{}, pdf[:last[0]]...), pdf[last[1]:]...)
	}},
	{"truncated trailer", func(pdf []byte) []byte {
		if i := bytes.LastIndex(pdf, []byte("trailer")); i > 0 {
			return pdf[:i+len("trailer")+12]
		}
		return pdf[:len(pdf)-40] // a cross-reference stream: cut into it
	}},
}

func pageCount(t testing.TB, path string) string {
	t.Helper()
	out, err := exec.Command("qpdf", "--show-npages", path).Output() // warnings go to stderr
	if len(out) == 0 {
		t.Fatalf("qpdf --show-npages %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// Damaged files without signatures are reconstructed, rewritten cleanly
// once and signed incrementally: pdfsig validates the signature, qpdf
// finds nothing to repair, and every page is still there. Damaged files
// with signatures are refused with UNMODIFIABLE.
func TestSign_RepairsDamagedFiles(t *testing.T) {
	f := newFixture(t)
	var corpus []string
	for _, n := range []string{"Walden.pdf", "5116.DCT_Filter.pdf", "ECSTR11-01.pdf", "test.pdf"} {
		corpus = append(corpus, filepath.Join(pdfcpuDir(), "testdata", n))
	}
	// The same with object streams and a cross-reference stream.
	objstm := filepath.Join(f.dir, "objstm.pdf")
	if out, err := exec.Command("qpdf", "--object-streams=generate", corpus[0], objstm).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, out)
	}
	corpus = append(corpus, objstm)
	for _, src := range corpus {
		good, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		wantPages := pageCount(t, src)
		for _, dm := range damages {
			name := strings.TrimSuffix(filepath.Base(src), ".pdf") + " " + dm.name
			t.Run(name, func(t *testing.T) {
				damaged := dm.damage(good)
				signed, err := signBytes(t, damaged, f.options())
				if err != nil {
					t.Fatalf("sign: %v", err)
				}
				path := writeTemp(t, f.dir, strings.ReplaceAll(name, " ", "-")+".pdf", signed)
				requirePdfsigValid(t, path, 1)
				if code := qpdfCheck(t, path); code != 0 {
					t.Errorf("qpdf --check exit %d on the repaired, signed file", code)
				}
				if got := pageCount(t, path); got != wantPages {
					t.Errorf("%s pages after repair, want %s", got, wantPages)
				}
				rep, err := pades.Verify(bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{Roots: f.pki.Roots()})
				if err != nil || rep.Verdict != pades.VerdictValid {
					t.Errorf("verify: %v %+v", err, rep)
				}

				// Signed, then damaged: refused, nothing written.
				again := dm.damage(mustSign(t, good, f))
				var out bytes.Buffer
				err = pades.Sign(t.Context(), bytes.NewReader(again), int64(len(again)), &out, f.options())
				var pe *pades.Error
				if !errors.Is(err, pades.ErrDamagedSigned) || !errors.As(err, &pe) || pe.Code.String() != "UNMODIFIABLE" || out.Len() != 0 {
					t.Errorf("damaged signed file: %v (%d bytes written), want ErrDamagedSigned with UNMODIFIABLE", err, out.Len())
				}
			})
		}
	}
}

func mustSign(t testing.TB, pdf []byte, f *fixture) []byte {
	t.Helper()
	out, err := signBytes(t, pdf, f.options())
	if err != nil {
		t.Fatal(err)
	}
	return out
}
