package pades_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

func requireTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"pdfsig", "qpdf", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found on PATH: apt-get install poppler-utils qpdf openssl", tool)
		}
	}
}

// pdfcpuDir is the pdfcpu module's pkg directory ("" when it cannot be
// found; testdataPDFs then fails with the reason).
func pdfcpuDir() string {
	dir, _ := padestest.PdfcpuDir()
	return dir
}

// testdataPDFs lists pdfcpu's own test PDFs from the module cache.
func testdataPDFs(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(pdfcpuDir(), "testdata", "*.pdf"))
	if len(files) < 20 {
		_, err := padestest.PdfcpuDir()
		t.Fatalf("pdfcpu testdata not found under %q: %v", pdfcpuDir(), err)
	}
	return files
}

type fixture struct {
	pki *cmstest.PKI
	id  *cmstest.Identity
	tsa *cmstest.TSA
	dir string
}

var sharedPKI = sync.OnceValues(cmstest.NewPKI)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	requireTools(t)
	pki, err := sharedPKI()
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.Issue("Alice Example", cmstest.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := pki.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pki: pki, id: id, tsa: tsa, dir: t.TempDir()}
}

func (f *fixture) options() pades.Options {
	return pades.Options{Signer: f.id.Key, Certificates: f.id.Chain, Name: "Alice Example", Reason: "Approval", Location: "Brno"}
}

// revocation returns the root and CRLs from both CAs, so B-LT has real
// revocation data for the whole chain.
func (f *fixture) revocation(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
	crl, err := f.pki.CRL(big.NewInt(1), time.Now())
	if err != nil {
		return pades.ValidationData{}, err
	}
	return pades.ValidationData{Certs: [][]byte{f.pki.Root.Raw}, CRLs: crl}, nil
}

// signFile signs in with opts and writes the result next to it.
func (f *fixture) signFile(t testing.TB, in string, opts pades.Options) (string, error) {
	t.Helper()
	fh, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	out := filepath.Join(f.dir, strings.TrimSuffix(filepath.Base(in), ".pdf")+"-signed.pdf")
	var buf bytes.Buffer
	if err := pades.Sign(context.Background(), fh, st.Size(), &buf, opts); err != nil {
		return "", err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

type pdfsigResult struct {
	Type  string
	Valid bool
	Total bool // "Total document signed"
}

var sigHeader = regexp.MustCompile(`(?m)^Signature #\d+:`)

// pdfsig runs poppler's pdfsig and parses each signature block; pdfsig
// exits 0 even on a digest mismatch, so its output is what counts.
func pdfsig(t testing.TB, path string) []pdfsigResult {
	t.Helper()
	out, err := exec.Command("pdfsig", path).CombinedOutput()
	if strings.Contains(string(out), "does not contain any signatures") {
		return nil
	}
	if err != nil && !strings.Contains(string(out), "Signature #") {
		t.Fatalf("pdfsig %s: %v\n%s", path, err, out)
	}
	blocks := sigHeader.Split(string(out), -1)
	var res []pdfsigResult
	for _, b := range blocks[1:] {
		r := pdfsigResult{Valid: strings.Contains(b, "Signature Validation: Signature is Valid."), Total: strings.Contains(b, "Total document signed")}
		if m := regexp.MustCompile(`Signature Type: (\S+)`).FindStringSubmatch(b); m != nil {
			r.Type = m[1]
		}
		res = append(res, r)
	}
	return res
}

// requirePdfsigValid checks that pdfsig sees want signatures and that every
// CMS one validates.
func requirePdfsigValid(t testing.TB, path string, want int) []pdfsigResult {
	t.Helper()
	res := pdfsig(t, path)
	if len(res) != want {
		out, _ := exec.Command("pdfsig", path).CombinedOutput()
		t.Fatalf("%s: pdfsig found %d signatures, want %d\n%s", filepath.Base(path), len(res), want, out)
	}
	for i, r := range res {
		if (r.Type == "ETSI.CAdES.detached" || r.Type == "adbe.pkcs7.detached") && !r.Valid {
			out, _ := exec.Command("pdfsig", path).CombinedOutput()
			t.Fatalf("%s: pdfsig signature #%d not valid:\n%s", filepath.Base(path), i+1, out)
		}
	}
	return res
}

// qpdfCheck runs `qpdf --check`; exit 0 is clean, 3 is warnings only.
func qpdfCheck(t testing.TB, path string) int {
	t.Helper()
	cmd := exec.Command("qpdf", "--check", path)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code == 2 {
		t.Errorf("qpdf --check %s failed:\n%s", filepath.Base(path), out)
	}
	return code
}
