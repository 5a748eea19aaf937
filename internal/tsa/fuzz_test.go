package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// FuzzServe feeds arbitrary bodies to the TSA: each must get HTTP 200 and a
// well-formed TimeStampResp (a rejection, or a token for a valid request),
// never a panic or a 500.
func FuzzServe(f *testing.F) {
	p, err := pki.LoadOrCreate(context.Background(), f.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		f.Fatal(err)
	}
	cred := p.TSA()
	srv, err := tsa.New(tsa.Config{Cert: cred.Cert, Key: cred.Key})
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256([]byte("seed"))
	seed, _ := (&rfc3161.Request{HashAlgorithm: crypto.SHA256, Digest: sum[:], CertReq: true}).Marshal()
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/tsa", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/timestamp-query")
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		resp, err := rfc3161.ParseResponse(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("unparseable response: %v", err)
		}
		if resp.Status != rfc3161.StatusGranted && resp.Status != rfc3161.StatusRejection {
			t.Fatalf("status %v", resp.Status)
		}
		if resp.Status == rfc3161.StatusRejection && len(resp.Failures) != 1 {
			t.Fatalf("rejection without failInfo")
		}
	})
}
