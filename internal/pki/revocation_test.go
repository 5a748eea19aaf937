package pki_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/revocation"
)

// TestRevocationData_FromOurPKI is the B-LT path end to end: the validation
// data pkg/revocation gathers from our live endpoints verifies in openssl.
func TestRevocationData_FromOurPKI(t *testing.T) {
	f := newFixture(t)
	cred, signerPath := f.signer(t, "Lise Meitner", "lise@example.com")
	chain := append([]*x509.Certificate{cred.Cert}, cred.Chain...)
	d, err := (&revocation.Fetcher{AlwaysCRL: true}).Fetch(context.Background(), chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Certs) != 3 || len(d.OCSPs) != 1 || len(d.CRLs) != 2 {
		t.Fatalf("got %d certs, %d OCSPs, %d CRLs; want 3, 1, 2", len(d.Certs), len(d.OCSPs), len(d.CRLs))
	}
	resp := f.path("resp.der")
	os.WriteFile(resp, d.OCSPs[0], 0o600)
	out := openssl(t, "ocsp", "-respin", resp, "-issuer", f.path("issuing.pem"), "-cert", signerPath,
		"-CAfile", f.path("root.pem"), "-verify_other", f.path("issuing.pem"))
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, signerPath+": good") {
		t.Errorf("openssl ocsp -respin:\n%s", out)
	}

	if err := f.pki.Revoke(context.Background(), cred.Cert.SerialNumber, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := (&revocation.Fetcher{}).Fetch(context.Background(), chain); !errors.Is(err, revocation.ErrRevoked) {
		t.Errorf("after revocation: got %v, want ErrRevoked", err)
	}
}
