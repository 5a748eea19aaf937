package envelope_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// foreignSigned returns a PDF already signed by a certificate of another
// CA whose OCSP, CRL and caIssuers URLs all point at base.
func foreignSigned(t *testing.T, base string) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Elsewhere Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Someone Elsewhere"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		OCSPServer:            []string{base + "/ocsp"},
		IssuingCertificateURL: []string{base + "/ca.crt"},
		CRLDistributionPoints: []string{base + "/crl"},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	src := samplePDF("Signed elsewhere", 1)
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(src), int64(len(src)), &out, pades.Options{
		Signer: key, Certificates: []*x509.Certificate{leaf, ca}, Name: "Someone Elsewhere",
	}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestFinalize_ForeignSignaturesValidationDataIsBestEffortAndGuarded uploads
// a PDF signed elsewhere by a certificate whose revocation URLs point at a
// loopback listener: finalisation must not call it (the outbound guard),
// must complete anyway, and must say in the audit trail what is missing.
func TestFinalize_ForeignSignaturesValidationDataIsBestEffortAndGuarded(t *testing.T) {
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer internal.Close()

	c := newClient(t)
	doc := c.upload("elsewhere.pdf", foreignSigned(t, internal.URL))
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "Countersign", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "counter@example.com", "name": "Cora Counter", "role": "SIGNER"}},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	tok := c.tokenOf(id, "counter@example.com")
	if r := do(t, "", http.MethodPost, "/api/v1/signer/"+tok+"/sign", map[string]any{
		"consent": true, "signature": map[string]any{"type": "typed", "text": "Cora Counter"}}); r.status != http.StatusOK {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	c.waitStatus(id, "COMPLETED")
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback listener named by the foreign certificate got %d requests", n)
	}
	var found bool
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(t)["data"].([]any) {
		m := e.(map[string]any)
		if m["type"] != envelope.EventValidationDataUnavailable {
			continue
		}
		found = true
		if s := strings.ToLower(anyString(m)); !strings.Contains(s, "someone elsewhere") && !strings.Contains(s, "signature") {
			t.Errorf("event does not name the signature: %v", m)
		}
	}
	if !found {
		t.Fatalf("audit trail lacks %s", envelope.EventValidationDataUnavailable)
	}
}

func anyString(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		if mm, ok := v.(map[string]any); ok {
			b.WriteString(anyString(mm))
		} else if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}
