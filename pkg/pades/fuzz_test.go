package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// fuzzSeeds are small real PDFs plus hand-made hostile ones.
func fuzzSeeds(f *testing.F) {
	pkgDir, err := padestest.PdfcpuDir()
	if err != nil {
		f.Fatal(err)
	}
	dir := filepath.Join(pkgDir, "testdata")
	for _, n := range []string{"test.pdf", "testRot.pdf", "empty.pdf", "blank-scan.pdf", "zineTest.pdf"} {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatalf("seed %s: %v", n, err)
		}
		f.Add(data)
	}
	// Signed files with later revisions, for the verifier's difference
	// analysis and revision walk.
	s := newTestSigner(f)
	signed := s.sign(f, readCorpus(f, "Walden.pdf"), "Fuzz", LevelBLTA)
	f.Add(signed)
	f.Add(overlay(f, signed))
	f.Add(append(bytes.Clone(signed), "\n1 0 obj\n<</Junk true>>\nendobj\n%%EOF\n"...))
	// A /Prev cycle, a huge /Size, a negative offset and deep nesting.
	f.Add([]byte("%PDF-1.4\nxref\n0 1\n0000000000 65535 f \ntrailer\n<</Size 99999999999/Root 1 0 R/Prev 9>>\nstartxref\n9\n%%EOF\n"))
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<</Type/XRef/W[1 4 2]/Size 3/Index[0 -5]/Length 5/Prev -4>>stream\nabcde\nendstream\nendobj\nstartxref\n9\n%%EOF"))
	f.Add([]byte("%PDF-1.4\n1 0 obj " + strings.Repeat("[", 500) + "\nstartxref\n9\n%%EOF"))
}

func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		d, err := openDocument(r, int64(len(data)))
		if err != nil {
			return
		}
		d.catalog()
		if n, err := d.pageCount(); err == nil && n > 0 {
			d.page(min(n, 3))
		}
		d.signatures()
		checkSignable(d)
		Verify(r, int64(len(data)), VerifyOptions{})
	})
}

// FuzzSign runs the whole signing path on mutated input: it must either
// fail with an error or produce a file our reader can open again.
func FuzzSign(f *testing.F) {
	fuzzSeeds(f)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		err := Sign(context.Background(), bytes.NewReader(data), int64(len(data)), &out, Options{Signer: key, Certificates: []*x509.Certificate{cert}})
		if err != nil {
			return
		}
		if _, err := openDocument(bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
			t.Fatalf("signed output unreadable: %v", err)
		}
	})
}

var _ io.ReaderAt = (*appendedReaderAt)(nil)

// FuzzReconstruct scans mutated files for objects as damaged files are
// scanned; whatever it rebuilds must rewrite into a file the reader opens.
func FuzzReconstruct(f *testing.F) {
	fuzzSeeds(f)
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n" +
		"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>\nendobj\ntrailer\n<</Root 1 0 R"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := reconstruct(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		d.signatures()
		clean, err := rewrite(d)
		d.release()
		if err != nil {
			return
		}
		if _, err := openDocument(bytes.NewReader(clean), int64(len(clean))); err != nil {
			t.Fatalf("rewritten file unreadable: %v", err)
		}
	})
}
