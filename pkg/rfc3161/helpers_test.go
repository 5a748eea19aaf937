package rfc3161

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testPKI is a root CA and a TSA certificate (EKU timeStamping, critical)
// made for one test.
type testPKI struct {
	root    *x509.Certificate
	tsaCert *x509.Certificate
	tsaKey  crypto.Signer
	roots   *x509.CertPool
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	root := mustCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	tsaKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsaTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test TSA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	tsa := mustCert(t, tsaTmpl, root, tsaKey.Public(), rootKey)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &testPKI{root: root, tsaCert: tsa, tsaKey: tsaKey, roots: pool}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *testPKI) issuer() *Issuer {
	policy, _ := x509.ParseOID("1.2.3.4.1")
	return &Issuer{Cert: p.tsaCert, Key: p.tsaKey, Policy: policy, Accuracy: time.Second}
}

// tsaHandler is a minimal TSA; tamper, when set, may alter the parsed
// request before the token is issued, to simulate a misbehaving server.
func tsaHandler(t testing.TB, is *Issuer, tamper func(*Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ParseRequest(body)
		if err != nil {
			der, _ := (&Response{Status: StatusRejection, Failures: []FailureInfo{FailBadDataFormat}}).Marshal()
			w.Write(der)
			return
		}
		if tamper != nil {
			tamper(req)
		}
		tok, err := is.Issue(r.Context(), req, time.Now())
		if err != nil {
			t.Errorf("issue: %v", err)
			return
		}
		der, _ := (&Response{Status: StatusGranted, Token: tok}).Marshal()
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(der)
	})
}

func startTSA(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
