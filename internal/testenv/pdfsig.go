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

// Pdfsig runs pdfsig on file (with -nssdir when nssdir is not empty, and
// any extra flags) and parses its report. pdfsig exits 0 even when a digest
// does not match, so callers judge the parsed fields; the raw output comes
// back for failure messages.
func Pdfsig(nssdir, file string, flags ...string) ([]PdfsigSignature, string, error) {
	if _, err := exec.LookPath("pdfsig"); err != nil {
		return nil, "", fmt.Errorf("pdfsig not found (apt-get install poppler-utils): %w", err)
	}
	args := append([]string{}, flags...)
	if nssdir != "" {
		args = append(args, "-nssdir", nssdir)
	}
	out, err := exec.Command("pdfsig", append(args, file)...).CombinedOutput()
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
