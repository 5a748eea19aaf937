package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// pdfcpuTestdata returns a PDF from pdfcpu's testdata.
func pdfcpuTestdata(t *testing.T, name string) string {
	t.Helper()
	dir, err := padestest.PdfcpuDir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs vellum to completion and returns its output and error.
func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	p := start(t, env, args...)
	err := p.wait(2 * time.Minute)
	return p.stdout.String() + p.Stderr(), err
}

// pdfsigValid counts "Signature is Valid." lines and all signatures pdfsig lists.
func pdfsigReport(t *testing.T, file string) (valid, total int, out string) {
	t.Helper()
	b, err := exec.Command("pdfsig", file).CombinedOutput()
	if err != nil && len(b) == 0 {
		t.Fatalf("pdfsig (apt-get install poppler-utils): %v", err)
	}
	out = string(b)
	return strings.Count(out, "Signature Validation: Signature is Valid."), strings.Count(out, "Signature #"), out
}

// TestPDFCLI_SignsEveryLevelAgainstDevPKIAndTSA signs with the dev PKI's seal
// key, time-stamps with dev's built-in TSA and embeds OCSP data from dev's
// responder, then checks the output with pdfsig, openssl-backed verify and
// `vellum pdf verify`.
func TestPDFCLI_SignsEveryLevelAgainstDevPKIAndTSA(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	dev.waitLine("API key:", 60*time.Second)
	pki := filepath.Join(dir, "pki")
	in := pdfcpuTestdata(t, "CenterOfWhy.pdf")

	prev := in
	for i, level := range []string{"B-B", "B-T", "B-LT", "B-LTA"} {
		out := filepath.Join(t.TempDir(), level+".pdf")
		args := []string{"pdf", "sign", "--in", prev, "--out", out,
			"--cert", filepath.Join(pki, "seal.crt"), "--key", filepath.Join(pki, "seal.key"),
			"--chain", filepath.Join(pki, "issuing.crt"), "--level", level, "--reason", "e2e " + level}
		if level != "B-B" {
			args = append(args, "--tsa", "http://"+addr+"/tsa")
		}
		if level == "B-T" {
			args = append(args, "--visible", "1,50,50,200,60", "--name", "E2E Signer")
		}
		if msg, err := run(t, nil, args...); err != nil {
			t.Fatalf("pdf sign %s: %v\n%s", level, err, msg)
		}
		// Each level signs the previous output: earlier signatures must survive.
		valid, total, report := pdfsigReport(t, out)
		if valid != i+1 {
			t.Fatalf("%s: pdfsig shows %d valid of %d signatures, want %d valid:\n%s", level, valid, total, i+1, report)
		}
		msg, err := run(t, nil, "pdf", "verify", out, "--roots", filepath.Join(pki, "root.crt"))
		if err != nil {
			t.Fatalf("pdf verify %s: %v\n%s", level, err, msg)
		}
		if level == "B-LTA" && !strings.Contains(msg, "B-LTA") {
			t.Errorf("verify does not report level B-LTA:\n%s", msg)
		}
		prev = out
	}

	// One changed byte inside the signed range must fail verification.
	b, err := os.ReadFile(prev)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "tampered.pdf")
	if err := os.WriteFile(tampered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := run(t, nil, "pdf", "verify", tampered, "--roots", filepath.Join(pki, "root.crt")); err == nil {
		t.Fatalf("verify accepted a tampered file:\n%s", msg)
	}
}

func TestPDFCLI_RefusesEncryptedInputWithItsCode(t *testing.T) {
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc.pdf")
	if out, err := exec.Command("qpdf", "--encrypt", "user", "owner", "256", "--", pdfcpuTestdata(t, "CenterOfWhy.pdf"), enc).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --encrypt (apt-get install qpdf): %v %s", err, out)
	}
	pki := filepath.Join(dir, "pki")
	if msg, err := run(t, nil, "pki", "init", "--dir", pki, "--public-url", "http://localhost"); err != nil {
		t.Fatal(msg)
	}
	out := filepath.Join(dir, "out.pdf")
	msg, err := run(t, nil, "pdf", "sign", "--in", enc, "--out", out,
		"--cert", filepath.Join(pki, "seal.crt"), "--key", filepath.Join(pki, "seal.key"))
	if err == nil {
		t.Fatal("signing an encrypted PDF succeeded")
	}
	if !strings.Contains(msg, "ENCRYPTED") {
		t.Errorf("message does not name RemSig's ENCRYPTED code:\n%s", msg)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed sign left an output file")
	}
}
