package remsig_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// guardedTSAs lets tasks name a loopback timestamp.url (the test's TSA)
// through the outbound guard, until the test ends.
func guardedTSAs(t *testing.T) {
	old := env.batches.TSAClient
	env.batches.TSAClient = rfc3161.WithHTTPClient(outbound.NewClient(outbound.Config{Timeout: 10 * time.Second, AllowPrivate: true}))
	t.Cleanup(func() { env.batches.TSAClient = old })
}

// basicTSA is the platform's TSA behind HTTP Basic user:pass; it counts
// the requests it answered.
func basicTSA(t *testing.T, user, pass string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	cred := env.ca.TSA()
	srv, err := tsa.New(tsa.Config{Cert: cred.Cert, Key: cred.Key, Chain: cred.Chain[:1]})
	if err != nil {
		t.Fatal(err)
	}
	var answered atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answered.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs, &answered
}

// TestSecrets_TimestampCredentialsSealedAtRest: a custom timestamp
// server's password and headers are nowhere in a dump of the database
// while the task waits for its PIN, yet the worker authenticates with them.
func TestSecrets_TimestampCredentialsSealedAtRest(t *testing.T) {
	guardedTSAs(t)
	const password, token = "tsa-pass-Q7rX2vLm9", "tsa-header-token-K3pW8z"
	hs, answered := basicTSA(t, "tsa-user", password)
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","name":"ts.pdf",`+
		`"data":{"bytes":"`+b64(testPDF(t))+`"},"signatureLevel":"T",`+
		`"timestamp":{"url":"`+hs.URL+`","timeout":"3s","headers":{"X-Tsa-Token":"`+token+`"},`+
		`"authentication":{"basic":{"username":"tsa-user","password":"`+password+`"}}}}`)
	hash, _ := r.body["hash"].(string)
	if r.status != http.StatusOK || hash == "" {
		t.Fatalf("sign pdf: %d %s", r.status, r.raw)
	}
	dump, err := env.svc.PG.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte(hash)) || !bytes.Contains(dump, []byte(hs.URL)) {
		t.Fatal("the dump holds neither the batch nor its timestamp URL: the test would prove nothing")
	}
	for name, s := range map[string]string{"timestamp password": password, "timestamp header": token} {
		if bytes.Contains(dump, []byte(s)) {
			t.Errorf("the database dump contains the %s", name)
		}
	}

	if _, err := env.batches.Authorize(context.Background(), hash, "pin-123456"); err != nil {
		t.Fatal(err)
	}
	signAll(t, hash)
	files := download(t, tn, hash)
	pdf := files["ts.pdf"]
	rep, err := pades.Verify(bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].TimestampTime.IsZero() {
		t.Fatalf("signed with the sealed credentials: %v %+v (TSA answered %d)", err, rep, answered.Load())
	}
	if answered.Load() != 1 {
		t.Fatalf("the TSA answered %d authenticated requests, want 1", answered.Load())
	}
}
