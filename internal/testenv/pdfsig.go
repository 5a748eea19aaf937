package testenv

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// NSSDB creates an NSS certificate database in dir that trusts roots for
// signing, and returns the "sql:DIR" name pdfsig's -nssdir takes. It needs
// certutil (Debian's libnss3-tools).
func NSSDB(dir string, roots ...*x509.Certificate) (string, error) {
	if _, err := exec.LookPath("certutil"); err != nil {
		return "", fmt.Errorf("certutil not found (apt-get install libnss3-tools): %w", err)
	}
	db := "sql:" + dir
	if out, err := exec.Command("certutil", "-N", "-d", db, "--empty-password").CombinedOutput(); err != nil {
		return "", fmt.Errorf("certutil -N: %v: %s", err, out)
	}
	for i, c := range roots {
		path := filepath.Join(dir, fmt.Sprintf("root%d.pem", i))
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			return "", err
		}
		nick := fmt.Sprintf("root%d", i)
		if out, err := exec.Command("certutil", "-A", "-n", nick, "-t", "CT,C,C", "-i", path, "-d", db).CombinedOutput(); err != nil {
			return "", fmt.Errorf("certutil -A: %v: %s", err, out)
		}
	}
	return db, nil
}

// PdfsigSignature is one signature as poppler's pdfsig reports it.
type PdfsigSignature struct {
	Signer      string // "Signer Certificate Common Name"
	Type        string // "Signature Type", e.g. ETSI.CAdES.detached
	Signature   string // "Signature Validation", e.g. "Signature is Valid."
	Certificate string // "Certificate Validation", e.g. "Certificate is Trusted."
	Total       bool   // "Total document signed"
}

// Valid reports whether pdfsig found the signature itself valid.
func (s PdfsigSignature) Valid() bool { return s.Signature == "Signature is Valid." }

// Trusted reports whether pdfsig also trusted the certificate.
func (s PdfsigSignature) Trusted() bool { return s.Certificate == "Certificate is Trusted." }

var (
	pdfsigHeader = regexp.MustCompile(`(?m)^Signature #\d+:`)
	pdfsigField  = regexp.MustCompile(`(?m)^\s+- ([^:\n]+): (.*)$`)
)

// Pdfsig runs pdfsig on file (with -nssdir when nssdir is not empty, env
// added to its environment, and any extra flags) and parses its report. pdfsig exits 0 even when a digest
// does not match, so callers judge the parsed fields; the raw output comes
// back for failure messages.
func Pdfsig(nssdir, file string, env []string, flags ...string) ([]PdfsigSignature, string, error) {
	if _, err := exec.LookPath("pdfsig"); err != nil {
		return nil, "", fmt.Errorf("pdfsig not found (apt-get install poppler-utils): %w", err)
	}
	args := append([]string{}, flags...)
	if nssdir != "" {
		args = append(args, "-nssdir", nssdir)
	}
	cmd := exec.Command("pdfsig", append(args, file)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil && !strings.Contains(text, "Signature #") {
		return nil, text, fmt.Errorf("pdfsig %s: %v", file, err)
	}
	return ParsePdfsig(text), text, nil
}

// ParsePdfsig parses pdfsig's report.
func ParsePdfsig(out string) []PdfsigSignature {
	blocks := pdfsigHeader.Split(out, -1)
	var sigs []PdfsigSignature
	for _, b := range blocks[1:] {
		var s PdfsigSignature
		for _, m := range pdfsigField.FindAllStringSubmatch(b, -1) {
			switch m[1] {
			case "Signer Certificate Common Name":
				s.Signer = m[2]
			case "Signature Type":
				s.Type = m[2]
			case "Signature Validation":
				s.Signature = m[2]
			case "Certificate Validation":
				s.Certificate = m[2]
			}
		}
		s.Total = strings.Contains(b, "Total document signed")
		sigs = append(sigs, s)
	}
	return sigs
}

// VfychainOCSP validates a certificate chain with NSS's vfychain for
// e-mail signing, requiring a good OCSP response for the leaf fetched
// online from its AIA responder. certs are PEM files, leaf first. pdfsig
// 22.12 cannot be relied on for this after the first time-stamped
// signature of a file: its validateCertificate reads NSS's error code even
// when verification succeeded, and reports the stale code left by the
// earlier signature as "Unknown issue with Certificate" (poppler
// SignatureHandler::validateCertificate).
func VfychainOCSP(nssdir string, env []string, certs ...string) (string, error) {
	if _, err := exec.LookPath("vfychain"); err != nil {
		return "", fmt.Errorf("vfychain not found (apt-get install libnss3-tools): %w", err)
	}
	args := []string{"-d", nssdir, "-pp", "-u", "5", "-g", "leaf", "-h", "requireFreshInfo",
		"-m", "ocsp", "-s", "requireInfo", "-v"}
	for _, c := range certs {
		args = append(args, "-a", c)
	}
	cmd := exec.Command("vfychain", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Chain is good!") {
		return string(out), fmt.Errorf("vfychain: %v: %s", err, out)
	}
	return string(out), nil
}

// FakeTime is the environment that makes a dynamically linked program see
// the clock start at t (libfaketime, Debian's faketime package): pdfsig and
// vfychain validate at "now", and have no option to validate at another time.
func FakeTime(t time.Time) ([]string, error) {
	lib := "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
	if _, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("libfaketime not found (apt-get install faketime): %w", err)
	}
	return []string{"LD_PRELOAD=" + lib, "FAKETIME=@" + t.UTC().Format("2006-01-02 15:04:05"),
		"FAKETIME_DONT_FAKE_MONOTONIC=1", "TZ=UTC"}, nil
}
