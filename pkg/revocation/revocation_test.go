package revocation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// testCA is a root, an intermediate and a leaf whose OCSP responder and
// CRLs are served on loopback by the CA itself; mode switches how the OCSP
// responder misbehaves.
type testCA struct {
	root, inter, leaf *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
	url               string

	mu      sync.Mutex
	mode    string // "", "hang", "500", "badsig", "expired", "delegated", "delegated-noeku", "unknown"
	revoked map[string]bool
	ocspN   int // OCSP requests answered
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	ca := &testCA{url: "http://" + srv.Listener.Addr().String(), revoked: map[string]bool{}}
	ca.rootKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca.interKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	ca.root = makeCert(t, rootT, rootT, &ca.rootKey.PublicKey, ca.rootKey)
	interT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, CRLDistributionPoints: []string{ca.url + "/root.crl"},
		IssuingCertificateURL: []string{ca.url + "/root.crt"}}
	ca.inter = makeCert(t, interT, ca.root, &ca.interKey.PublicKey, ca.rootKey)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Leaf"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		OCSPServer: []string{ca.url + "/ocsp"}, CRLDistributionPoints: []string{"ldap://ignored", ca.url + "/inter.crl"},
		IssuingCertificateURL: []string{"ldap://ignored", ca.url + "/inter.crt"}}
	ca.leaf = makeCert(t, leafT, ca.inter, &leafKey.PublicKey, ca.interKey)

	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ocsp", func(w http.ResponseWriter, r *http.Request) {
		if ca.getMode() == "hang" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		body, _ := io.ReadAll(r.Body)
		ca.mu.Lock()
		ca.ocspN++
		ca.mu.Unlock()
		w.Write(ca.ocspResponse(t, body))
	})
	mux.HandleFunc("GET /inter.crt", func(w http.ResponseWriter, r *http.Request) { w.Write(ca.inter.Raw) })
	mux.HandleFunc("GET /root.crt", func(w http.ResponseWriter, r *http.Request) {
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}))
	})
	mux.HandleFunc("GET /inter.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(ca.crl(t, ca.inter, ca.interKey)) })
	mux.HandleFunc("GET /root.crl", func(w http.ResponseWriter, r *http.Request) { w.Write(ca.crl(t, ca.root, ca.rootKey)) })
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return ca
}

func (ca *testCA) getMode() string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.mode
}

func (ca *testCA) set(mode string, revoked ...*x509.Certificate) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.mode = mode
	for _, c := range revoked {
		ca.revoked[c.SerialNumber.String()] = true
	}
}

func (ca *testCA) isRevoked(serial *big.Int) bool {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.revoked[serial.String()]
}

func (ca *testCA) ocspResponse(t *testing.T, body []byte) []byte {
	mode := ca.getMode()
	if mode == "500" {
		return []byte("not ocsp")
	}
	req, err := ocsp.ParseRequest(body)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse
	}
	now := time.Now()
	tmpl := ocsp.Response{SerialNumber: req.SerialNumber, Status: ocsp.Good, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
	if ca.isRevoked(req.SerialNumber) {
		tmpl.Status, tmpl.RevokedAt = ocsp.Revoked, now.Add(-time.Minute)
	}
	var signer crypto.Signer = ca.interKey
	responder := ca.inter
	switch mode {
	case "unknown":
		tmpl.Status = ocsp.Unknown
	case "expired":
		tmpl.ThisUpdate, tmpl.NextUpdate = now.Add(-2*time.Hour), now.Add(-time.Hour)
	case "badsig":
		signer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "delegated", "delegated-noeku":
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		rt := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "OCSP Responder"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		if mode == "delegated" {
			rt.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		}
		responder = makeCert(t, rt, ca.inter, &key.PublicKey, ca.interKey)
		tmpl.Certificate, signer = responder, key
	}
	der, err := ocsp.CreateResponse(ca.inter, responder, tmpl, signer)
	if err != nil {
		t.Errorf("ocsp.CreateResponse: %v", err)
	}
	return der
}

func (ca *testCA) crl(t *testing.T, issuer *x509.Certificate, key crypto.Signer) []byte {
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
	for _, c := range []*x509.Certificate{ca.leaf, ca.inter} {
		if ca.isRevoked(c.SerialNumber) && c.Issuer.String() == issuer.Subject.String() {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
				x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: now})
		}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Errorf("CreateRevocationList: %v", err)
	}
	return der
}

func makeCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func (ca *testCA) chain() []*x509.Certificate { return []*x509.Certificate{ca.leaf, ca.inter, ca.root} }

func TestFetch_OCSPForLeafAndCRLForIntermediate(t *testing.T) {
	ca := newTestCA(t)
	d, err := (&Fetcher{}).Fetch(context.Background(), ca.chain())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Certs) != 3 || len(d.OCSPs) != 1 || len(d.CRLs) != 1 {
		t.Fatalf("got %d certs, %d OCSPs, %d CRLs; want 3, 1, 1", len(d.Certs), len(d.OCSPs), len(d.CRLs))
	}
	if _, err := ocsp.ParseResponseForCert(d.OCSPs[0], ca.leaf, ca.inter); err != nil {
		t.Errorf("embedded OCSP response: %v", err)
	}
	rl, err := x509.ParseRevocationList(d.CRLs[0])
	if err != nil || rl.CheckSignatureFrom(ca.root) != nil {
		t.Errorf("embedded CRL is not the root's: %v", err)
	}
}

func TestFetch_AlwaysCRLAddsLeafCRL(t *testing.T) {
	ca := newTestCA(t)
	d, err := (&Fetcher{AlwaysCRL: true}).Fetch(context.Background(), ca.chain())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.OCSPs) != 1 || len(d.CRLs) != 2 {
		t.Errorf("got %d OCSPs, %d CRLs; want 1, 2", len(d.OCSPs), len(d.CRLs))
	}
}

func TestFetch_FallsBackToCRLWhenOCSPFails(t *testing.T) {
	for _, mode := range []string{"500", "badsig", "expired", "unknown", "delegated-noeku", "hang"} {
		t.Run(mode, func(t *testing.T) {
			ca := newTestCA(t)
			ca.set(mode)
			start := time.Now()
			d, err := (&Fetcher{Timeout: 500 * time.Millisecond}).Fetch(context.Background(), ca.chain())
			if err != nil {
				t.Fatal(err)
			}
			if len(d.OCSPs) != 0 || len(d.CRLs) != 2 {
				t.Errorf("got %d OCSPs, %d CRLs; want 0, 2", len(d.OCSPs), len(d.CRLs))
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v despite a 500ms timeout", time.Since(start))
			}
		})
	}
}

func TestFetch_DelegatedResponderCertificateIsIncluded(t *testing.T) {
	ca := newTestCA(t)
	ca.set("delegated")
	d, err := (&Fetcher{}).Fetch(context.Background(), ca.chain())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.OCSPs) != 1 || len(d.Certs) != 4 {
		t.Errorf("got %d OCSPs, %d certs; want 1, 4", len(d.OCSPs), len(d.Certs))
	}
}

func TestFetch_RevokedCertificateIsAnError(t *testing.T) {
	for _, mode := range []string{"", "500"} { // via OCSP, then via CRL
		ca := newTestCA(t)
		ca.set(mode, ca.leaf)
		_, err := (&Fetcher{}).Fetch(context.Background(), ca.chain())
		if !errors.Is(err, ErrRevoked) || !strings.Contains(err.Error(), "Leaf") {
			t.Errorf("mode %q: got %v, want ErrRevoked naming the leaf", mode, err)
		}
	}
	ca := newTestCA(t)
	ca.set("", ca.inter)
	if _, err := (&Fetcher{}).Fetch(context.Background(), ca.chain()); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked intermediate: got %v", err)
	}
}

func TestFetch_NoSourceIsAnError(t *testing.T) {
	ca := newTestCA(t)
	ca.set("badsig")
	leaf := *ca.leaf
	leaf.CRLDistributionPoints = nil // OCSP only, and the OCSP answer is forged
	_, err := (&Fetcher{}).Fetch(context.Background(), []*x509.Certificate{&leaf, ca.inter, ca.root})
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "OCSP "+ca.url+"/ocsp") {
		t.Errorf("got %v, want ErrNoData naming the OCSP URL", err)
	}
}

func TestFetch_RejectsBrokenChain(t *testing.T) {
	ca := newTestCA(t)
	if _, err := (&Fetcher{}).Fetch(context.Background(), []*x509.Certificate{ca.leaf, ca.root}); err == nil {
		t.Error("leaf followed by the root (not its issuer) accepted")
	}
}

// FetchSet given only the leaf (twice, as a CMS and its options both carry
// it) completes the chain through caIssuers and asks for the leaf's status
// once: no CA is left without revocation data, nothing is stored twice.
func TestFetchSet_CompletesChainViaCAIssuersAndDedupes(t *testing.T) {
	ca := newTestCA(t)
	d, err := (&Fetcher{}).FetchSet(context.Background(), []*x509.Certificate{ca.leaf, ca.leaf})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Certs) != 3 || len(d.OCSPs) != 1 || len(d.CRLs) != 1 {
		t.Fatalf("got %d certs, %d OCSP responses, %d CRLs; want 3, 1, 1", len(d.Certs), len(d.OCSPs), len(d.CRLs))
	}
	if ca.ocspN != 1 {
		t.Fatalf("%d OCSP requests for one certificate", ca.ocspN)
	}
	if _, err := x509.ParseRevocationList(d.CRLs[0]); err != nil {
		t.Fatal(err)
	}
}

func TestFetchSet_IssuerNeitherGivenNorFetchableIsAnError(t *testing.T) {
	ca := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	orphanT := &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "Orphan"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), OCSPServer: []string{ca.url + "/ocsp"}}
	orphan := makeCert(t, orphanT, ca.inter, &key.PublicKey, ca.interKey)
	_, err := (&Fetcher{}).FetchSet(context.Background(), []*x509.Certificate{orphan})
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "caIssuers") {
		t.Fatalf("got %v, want ErrNoData naming caIssuers", err)
	}
}
