package rfc3161_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

func ExampleClient_Timestamp() {
	tsaURL, roots, stop := exampleTSA()
	defer stop()

	client, err := rfc3161.NewClient([]rfc3161.Server{
		{Name: "primary", URL: tsaURL, Timeout: 2 * time.Second},
		{Name: "backup", URL: "http://127.0.0.1:9/tsa"}, // tried only if primary fails
	})
	if err != nil {
		panic(err)
	}
	digest := sha256.Sum256([]byte("signed bytes"))
	token, err := client.Timestamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		panic(err) // names every server and its failure; never falls back to local time
	}
	tok, err := rfc3161.VerifyToken(token, digest[:], roots)
	if err != nil {
		panic(err)
	}
	fmt.Println("time-stamped by", tok.SignerCert.Subject.CommonName, "under policy", tok.Policy)
	// Output: time-stamped by Example TSA under policy 1.2.3.4.1
}

// exampleTSA serves a self-signed TSA on loopback.
func exampleTSA() (url string, roots *x509.CertPool, stop func()) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}) // timeStamping
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	policy, _ := x509.ParseOID("1.2.3.4.1")
	issuer := &rfc3161.Issuer{Cert: cert, Key: key, Policy: policy, Accuracy: time.Second}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp := &rfc3161.Response{Status: rfc3161.StatusRejection, Failures: []rfc3161.FailureInfo{rfc3161.FailBadDataFormat}}
		if req, err := rfc3161.ParseRequest(body); err == nil {
			if tok, err := issuer.Issue(r.Context(), req, time.Now()); err == nil {
				resp = &rfc3161.Response{Status: rfc3161.StatusGranted, Token: tok}
			}
		}
		out, _ := resp.Marshal()
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(out)
	}))
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return srv.URL, roots, srv.Close
}
