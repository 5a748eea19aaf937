package pki_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vellum-sign/vellum/internal/pki"
)

// fixture is a development PKI whose OCSP, CRL and CA URLs point at a live
// loopback server running its Handler.
type fixture struct {
	pki *pki.PKI
	url string
	dir string
}

func newFixture(t *testing.T, opts ...pki.Option) *fixture {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	dir := t.TempDir()
	p, err := pki.LoadOrCreate(context.Background(), filepath.Join(dir, "pki"), base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	f := &fixture{pki: p, url: base, dir: dir}
	f.write(t, "root.pem", p.Root())
	f.write(t, "issuing.pem", p.Issuing())
	return f
}

func (f *fixture) write(t *testing.T, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// openssl runs openssl; a missing binary fails the test, because checking
// our PKI with an independent implementation is the point.
func openssl(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required to validate the PKI independently (apt-get install openssl): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Logf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func (f *fixture) signer(t *testing.T, name, email string) (*pki.Credential, string) {
	t.Helper()
	cred, err := f.pki.IssueSigner(context.Background(), name, email)
	if err != nil {
		t.Fatalf("IssueSigner: %v", err)
	}
	return cred, f.write(t, "signer.pem", cred.Cert)
}

func TestIssueSigner_CertificateVerifiedByOpenSSL(t *testing.T) {
	f := newFixture(t)
	cred, path := f.signer(t, "Ada Lovelace", "ada@example.com")
	out := openssl(t, "verify", "-CAfile", f.path("root.pem"), "-untrusted", f.path("issuing.pem"), path)
	if !strings.Contains(out, path+": OK") {
		t.Fatalf("openssl verify:\n%s", out)
	}
	text := openssl(t, "x509", "-in", path, "-noout", "-text")
	for _, want := range []string{
		"Subject: CN = Ada Lovelace, emailAddress = ada@example.com",
		"email:ada@example.com",
		"ASN1 OID: prime256v1",
		"Digital Signature, Non Repudiation",
		"OCSP - URI:" + f.url + "/pki/ocsp",
		"CA Issuers - URI:" + f.url + "/pki/ca/issuing.crt",
		"URI:" + f.url + "/pki/crl/issuing.crl",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("signer certificate lacks %q:\n%s", want, text)
		}
	}
	if d := cred.Cert.NotAfter.Sub(cred.Cert.NotBefore); d > 25*time.Hour {
		t.Errorf("signer certificate lives %v, want short-lived", d)
	}
	if _, err := cred.Cert.Verify(x509.VerifyOptions{Roots: pool(f.pki.Root()), Intermediates: pool(cred.Chain[0]),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Errorf("Go verify: %v", err)
	}
}

func TestIssueSigner_RejectsBadIdentity(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, email string }{
		{"", "a@example.com"},
		{"Ada", "not an address"},
		{"Ada", "Ada <ada@example.com>"},
		{strings.Repeat("x", 65), "a@example.com"},
	} {
		if _, err := f.pki.IssueSigner(context.Background(), tc.name, tc.email); err == nil {
			t.Errorf("IssueSigner(%q, %q) succeeded", tc.name, tc.email)
		}
	}
}

func TestServiceCertificates_Profiles(t *testing.T) {
	f := newFixture(t)
	tsaPath := f.write(t, "tsa.pem", f.pki.TSA().Cert)
	text := openssl(t, "x509", "-in", tsaPath, "-noout", "-text")
	if !strings.Contains(text, "X509v3 Extended Key Usage: critical\n                Time Stamping") {
		t.Errorf("TSA certificate lacks critical timeStamping EKU:\n%s", text)
	}
	out := openssl(t, "verify", "-purpose", "timestampsign", "-CAfile", f.path("root.pem"), "-untrusted", f.path("issuing.pem"), tsaPath)
	if !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify -purpose timestampsign:\n%s", out)
	}
	seal := f.pki.Seal()
	if seal.Cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("seal key usage %v", seal.Cert.KeyUsage)
	}
	sealPath := f.write(t, "seal.pem", seal.Cert)
	if out := openssl(t, "verify", "-CAfile", f.path("root.pem"), "-untrusted", f.path("issuing.pem"), sealPath); !strings.Contains(out, ": OK") {
		t.Errorf("seal: %s", out)
	}
}

func TestOCSP_GoodThenRevokedViaOpenSSL(t *testing.T) {
	f := newFixture(t)
	cred, path := f.signer(t, "Grace Hopper", "grace@example.com")
	check := func() string {
		return openssl(t, "ocsp", "-issuer", f.path("issuing.pem"), "-cert", path,
			"-url", f.url+"/pki/ocsp", "-CAfile", f.path("root.pem"))
	}
	out := check()
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, path+": good") {
		t.Fatalf("before revocation:\n%s", out)
	}
	if err := f.pki.Revoke(context.Background(), cred.Cert.SerialNumber, 1); err != nil {
		t.Fatal(err)
	}
	out = check()
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, path+": revoked") ||
		!strings.Contains(out, "Reason: keyCompromise") {
		t.Fatalf("after revocation:\n%s", out)
	}
}

func TestOCSP_GetUnknownAndUnauthorized(t *testing.T) {
	f := newFixture(t)
	cred, _ := f.signer(t, "Alan Turing", "alan@example.com")
	get := func(req []byte) []byte {
		t.Helper()
		resp, err := http.Get(f.url + "/pki/ocsp/" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(req), "+", "%2B"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
			t.Errorf("Content-Type %q", ct)
		}
		der, _ := io.ReadAll(resp.Body)
		return der
	}
	req, _ := ocsp.CreateRequest(cred.Cert, f.pki.Issuing(), &ocsp.RequestOptions{Hash: crypto.SHA256})
	resp, err := ocsp.ParseResponseForCert(get(req), cred.Cert, f.pki.Issuing())
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("GET good: %v %+v", err, resp)
	}

	stranger := *cred.Cert
	stranger.SerialNumber = big.NewInt(42)
	req, _ = ocsp.CreateRequest(&stranger, f.pki.Issuing(), nil)
	resp, err = ocsp.ParseResponse(get(req), f.pki.Issuing())
	if err != nil || resp.Status != ocsp.Unknown {
		t.Errorf("never-issued serial: %v %+v", err, resp)
	}

	other := newFixture(t)
	req, _ = ocsp.CreateRequest(cred.Cert, other.pki.Issuing(), nil)
	if _, err := ocsp.ParseResponse(get(req), nil); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("foreign issuer: got %v, want unauthorized", err)
	}
	if _, err := ocsp.ParseResponse(get([]byte("junk")), nil); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("junk request: got %v, want malformed", err)
	}
}

func TestCRL_ListsRevokedSerial(t *testing.T) {
	f := newFixture(t)
	cred, _ := f.signer(t, "Emmy Noether", "emmy@example.com")
	keep, _ := f.signer(t, "Kept Valid", "kept@example.com")
	fetch := func(name string) string {
		t.Helper()
		resp, err := http.Get(f.url + "/pki/crl/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("GET %s: %d %q", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		der, _ := io.ReadAll(resp.Body)
		path := f.path(name)
		os.WriteFile(path, der, 0o600)
		return path
	}
	before := openssl(t, "crl", "-inform", "DER", "-in", fetch("issuing.crl"), "-noout", "-text")
	if !strings.Contains(before, "No Revoked Certificates") || !strings.Contains(before, "Next Update:") {
		t.Errorf("fresh CRL:\n%s", before)
	}
	if err := f.pki.Revoke(context.Background(), cred.Cert.SerialNumber, 4); err != nil {
		t.Fatal(err)
	}
	path := fetch("issuing.crl")
	text := openssl(t, "crl", "-inform", "DER", "-in", path, "-noout", "-text")
	serial := strings.ToUpper(cred.Cert.SerialNumber.Text(16))
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	if !strings.Contains(text, "Serial Number: "+serial) || !strings.Contains(text, "Superseded") {
		t.Errorf("CRL lacks revoked serial %s:\n%s", serial, text)
	}
	if strings.Contains(text, strings.ToUpper(keep.Cert.SerialNumber.Text(16))) {
		t.Errorf("CRL lists a valid certificate")
	}
	chain := f.write(t, "chain.pem", f.pki.Issuing(), f.pki.Root())
	if out := openssl(t, "crl", "-inform", "DER", "-in", path, "-CAfile", chain, "-noout"); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl crl verify:\n%s", out)
	}
	// The issuing CA's own revocation data: the root CRL its CDP points to.
	rootCRL := openssl(t, "crl", "-inform", "DER", "-in", fetch("root.crl"), "-CAfile", f.path("root.pem"), "-noout")
	if !strings.Contains(rootCRL, "verify OK") {
		t.Errorf("root CRL:\n%s", rootCRL)
	}
	// A signer certificate checked against the CRL by openssl.
	signerPath := f.write(t, "revoked.pem", cred.Cert)
	crlPEM := f.path("issuing.crl.pem")
	openssl(t, "crl", "-inform", "DER", "-in", path, "-out", crlPEM)
	rootCRLPEM := f.path("root.crl.pem")
	openssl(t, "crl", "-inform", "DER", "-in", f.path("root.crl"), "-out", rootCRLPEM)
	out := openssl(t, "verify", "-crl_check_all", "-CRLfile", crlPEM, "-CRLfile", rootCRLPEM,
		"-CAfile", f.path("root.pem"), "-untrusted", f.path("issuing.pem"), signerPath)
	if !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify -crl_check_all did not see the revocation:\n%s", out)
	}
}

func TestHandler_ServesCACertificates(t *testing.T) {
	f := newFixture(t)
	for name, want := range map[string]*x509.Certificate{"root.crt": f.pki.Root(), "issuing.crt": f.pki.Issuing()} {
		resp, err := http.Get(f.url + "/pki/ca/" + name)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Type") != "application/pkix-cert" || !bytes.Equal(der, want.Raw) {
			t.Errorf("%s: %q, %d bytes", name, resp.Header.Get("Content-Type"), len(der))
		}
	}
	resp, _ := http.Get(f.url + "/pki/ca/other.crt")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown CA file: HTTP %d", resp.StatusCode)
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
