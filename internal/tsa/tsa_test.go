package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// fixture is a development PKI and the built-in TSA on a loopback port.
type fixture struct {
	pki  *pki.PKI
	url  string
	dir  string // holds root.pem and chain.pem for openssl
	root string
	// chain is the TSA and issuing CA certificates, given to openssl as
	// -untrusted so it needs nothing from the token itself but the trust anchor.
	chain string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	p, err := pki.LoadOrCreate(context.Background(), filepath.Join(dir, "pki"), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cred := p.TSA()
	srv, err := tsa.New(tsa.Config{Cert: cred.Cert, Key: cred.Key, Chain: cred.Chain[:1]})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	f := &fixture{pki: p, url: hs.URL, dir: dir, root: filepath.Join(dir, "root.pem"), chain: filepath.Join(dir, "chain.pem")}
	writePEM(t, f.root, p.Root())
	writePEM(t, f.chain, cred.Cert, p.Issuing())
	return f
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// openssl runs openssl and returns its combined output. A missing openssl
// fails the test: independent validation is the point of these tests.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required to validate tokens independently (apt-get install openssl): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func TestTimestamp_TokenVerifiedByOpenSSL(t *testing.T) {
	f := newFixture(t)
	data := filepath.Join(f.dir, "data.bin")
	content := []byte("the bytes a PDF signature covers")
	os.WriteFile(data, content, 0o600)

	c, err := rfc3161.NewClient([]rfc3161.Server{{Name: "built-in", URL: f.url + "/tsa"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    crypto.Hash
		sum  []byte
	}{
		{"sha256", crypto.SHA256, func() []byte { s := sha256.Sum256(content); return s[:] }()},
		{"sha384", crypto.SHA384, func() []byte { s := sha512.Sum384(content); return s[:] }()},
		{"sha512", crypto.SHA512, func() []byte { s := sha512.Sum512(content); return s[:] }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := c.Timestamp(context.Background(), tc.sum, tc.h)
			if err != nil {
				t.Fatalf("Timestamp: %v", err)
			}
			tok := filepath.Join(f.dir, tc.name+".tst")
			os.WriteFile(tok, der, 0o600)
			for _, input := range [][]string{{"-digest", hex.EncodeToString(tc.sum)}, {"-data", data}} {
				args := append([]string{"ts", "-verify", "-in", tok, "-token_in", "-CAfile", f.root, "-untrusted", f.chain}, input...)
				out, err := openssl(t, args...)
				if err != nil || !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl %v: %v\n%s", input[0], err, out)
				}
			}
			// A different digest must not verify.
			other := bytes.Repeat([]byte{0xab}, tc.h.Size())
			out, _ := openssl(t, "ts", "-verify", "-in", tok, "-token_in", "-CAfile", f.root, "-untrusted", f.chain,
				"-digest", hex.EncodeToString(other))
			if strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl accepted the token for another digest:\n%s", out)
			}
			if _, err := rfc3161.VerifyToken(der, tc.sum, pool(f.pki.Root())); err != nil {
				t.Errorf("VerifyToken: %v", err)
			}
		})
	}
}

func TestServe_AnswersOpenSSLQuery(t *testing.T) {
	f := newFixture(t)
	data := filepath.Join(f.dir, "data.bin")
	os.WriteFile(data, []byte("hello"), 0o600)
	query := filepath.Join(f.dir, "q.tsq")
	if out, err := openssl(t, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	body, _ := os.ReadFile(query)
	resp, err := http.Post(f.url, "application/timestamp-query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
		t.Errorf("Content-Type %q", ct)
	}
	replyPath := filepath.Join(f.dir, "r.tsr")
	os.WriteFile(replyPath, reply, 0o600)
	// -queryfile makes openssl check the nonce and imprint against its own query.
	out, err := openssl(t, "ts", "-verify", "-queryfile", query, "-in", replyPath, "-CAfile", f.root, "-untrusted", f.chain)
	if err != nil || !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify -queryfile: %v\n%s", err, out)
	}
	out, err = openssl(t, "ts", "-reply", "-in", replyPath, "-text")
	// openssl prints the default policy under its openssl.cnf alias.
	for _, want := range []string{"Status: Granted.", "Policy OID: tsa_policy1", "Accuracy: 0x01 seconds", "Nonce: 0x"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl ts -reply -text lacks %q: %v\n%s", want, err, out)
		}
	}
}

func TestServe_IssuesUniqueSerials(t *testing.T) {
	f := newFixture(t)
	c, _ := rfc3161.NewClient([]rfc3161.Server{{URL: f.url}})
	seen := map[string]bool{}
	sum := sha256.Sum256([]byte("same data every time"))
	for range 50 {
		der, err := c.Timestamp(context.Background(), sum[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := rfc3161.ParseToken(der)
		if seen[tok.SerialNumber.String()] {
			t.Fatalf("serial %v issued twice", tok.SerialNumber)
		}
		seen[tok.SerialNumber.String()] = true
	}
}

func TestServe_RejectsBadRequests(t *testing.T) {
	f := newFixture(t)
	sum := sha256.Sum256([]byte("x"))
	valid := func(mod func(*rfc3161.Request)) []byte {
		r := &rfc3161.Request{HashAlgorithm: crypto.SHA256, Digest: sum[:], CertReq: true}
		mod(r)
		der, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sha1Req, _ := asn1.Marshal(struct {
		Version int
		MI      struct {
			Alg    struct{ OID asn1.ObjectIdentifier }
			Digest []byte
		}
	}{Version: 1, MI: struct {
		Alg    struct{ OID asn1.ObjectIdentifier }
		Digest []byte
	}{Alg: struct{ OID asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}}, Digest: make([]byte, 20)}})
	otherPolicy, _ := x509.ParseOID("1.2.3.4")
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		want        rfc3161.FailureInfo
	}{
		{"garbage", "application/timestamp-query", []byte("hello"), rfc3161.FailBadDataFormat},
		{"empty body", "application/timestamp-query", nil, rfc3161.FailBadDataFormat},
		{"SHA-1 imprint", "application/timestamp-query", sha1Req, rfc3161.FailBadAlg},
		{"foreign policy", "application/timestamp-query", valid(func(r *rfc3161.Request) { r.Policy = otherPolicy }), rfc3161.FailUnacceptedPolicy},
		{"extension", "application/timestamp-query", valid(func(r *rfc3161.Request) {
			r.Extensions = append(r.Extensions, pkixExt())
		}), rfc3161.FailUnacceptedExtension},
		{"wrong content type", "application/json", valid(func(*rfc3161.Request) {}), rfc3161.FailBadDataFormat},
		{"oversized", "application/timestamp-query", make([]byte, 1<<20), rfc3161.FailBadDataFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(f.url+"/tsa", tc.contentType, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			der, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d, want 200 with a rejection", resp.StatusCode)
			}
			r, err := rfc3161.ParseResponse(der)
			if err != nil {
				t.Fatalf("ParseResponse: %v", err)
			}
			if r.Status != rfc3161.StatusRejection || len(r.Failures) != 1 || r.Failures[0] != tc.want {
				t.Errorf("got %v %v %q, want rejection %v", r.Status, r.Failures, r.StatusText, tc.want)
			}
		})
	}
	resp, err := http.Get(f.url + "/tsa")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: HTTP %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestNew_RefusesCertificateWithoutTimeStampingUsage(t *testing.T) {
	p, err := pki.LoadOrCreate(context.Background(), t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	seal := p.Seal()
	if _, err := tsa.New(tsa.Config{Cert: seal.Cert, Key: seal.Key}); err == nil {
		t.Error("seal certificate accepted as TSA certificate")
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func pkixExt() pkix.Extension {
	return pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{0x05, 0x00}}
}
