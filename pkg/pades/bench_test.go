package pades_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// largeBenchPDF joins pdfcpu's testdata into an ~11 MB, ~4,900-page PDF
// with qpdf, cached in the temp dir across runs.
func largeBenchPDF(b *testing.B) string {
	path := filepath.Join(os.TempDir(), "vellum-pades-bench-large.pdf")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	requireTools(b)
	td := filepath.Join(pdfcpuDir(), "testdata")
	args := []string{"--empty", "--pages"}
	for _, n := range []string{"WaldenFull.pdf", "gobook.0.pdf", "T4.pdf", "TheGoProgrammingLanguageCh1.pdf", "itu-t81.pdf",
		"5116.DCT_Filter.pdf", "pike-stanford.pdf", "go-lecture.pdf", "go.pdf", "golang.pdf", "read.go.pdf"} {
		args = append(args, filepath.Join(td, n))
	}
	for i := 0; i < 20; i++ {
		args = append(args, filepath.Join(td, "ECSTR11-01.pdf"))
	}
	tmp := path + ".tmp"
	args = append(args, "--", tmp)
	if out, err := exec.Command("qpdf", args...).CombinedOutput(); err != nil {
		b.Fatalf("qpdf: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchFiles(b *testing.B) []struct{ name, path string } {
	td := filepath.Join(pdfcpuDir(), "testdata")
	return []struct{ name, path string }{
		{"small-58KB", filepath.Join(td, "Walden.pdf")},
		{"medium-950KB", filepath.Join(td, "GoForOptimization.pdf")},
		{"large-4900p", largeBenchPDF(b)},
	}
}

// BenchmarkSign measures B-B signing (ECDSA P-256, invisible) next to the
// floor: SHA-256 of the same file.
func BenchmarkSign(b *testing.B) {
	pki, err := cmstest.NewPKI()
	if err != nil {
		b.Fatal(err)
	}
	id, _ := pki.Issue("Bench Signer", cmstest.ECDSAP256)
	opts := pades.Options{Signer: id.Key, Certificates: id.Chain, Name: "Bench"}
	b.Run("sign/corpus", func(b *testing.B) { benchCorpus(b, opts) })
	for _, f := range benchFiles(b) {
		fh, err := os.Open(f.path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := fh.Stat()
		b.Run("sign/"+f.name, func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if err := pades.Sign(context.Background(), fh, st.Size(), io.Discard, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("sha256/"+f.name, func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				h := sha256.New()
				io.Copy(h, io.NewSectionReader(fh, 0, st.Size()))
				h.Sum(nil)
			}
		})
		fh.Close()
	}
}

// benchCorpus signs every PDF of pdfcpu's testdata once per iteration (the
// encrypted ones are refused early and counted with the rest): many small
// and mid-sized real-world files, where reading the structure (xref and
// object streams) weighs most next to hashing.
func benchCorpus(b *testing.B, opts pades.Options) {
	var inputs [][]byte
	var total int64
	for _, p := range testdataPDFs(b) {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, data)
		total += int64(len(data))
	}
	b.SetBytes(total)
	for b.Loop() {
		for _, in := range inputs {
			pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, opts)
		}
	}
}
