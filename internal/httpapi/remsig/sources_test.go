package remsig_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/pkg/pades"
)

func TestDataHTTP_OnlyRegisteredSourcesThroughTheGuard(t *testing.T) {
	pdf := testPDF(t)
	var hits atomic.Int64
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "exporter" || p != "s3cret" || r.Header.Get("X-Api-Key") != "k1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(pdf)
	}))
	defer src.Close()
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	body := func(u string) string {
		return `{"personUniqueId":"` + p.UniqueID + `","name":"remote.pdf","data":{"http":{"url":"` + u + `","prefetch":true,` +
			`"headers":{"X-Api-Key":"k1"},"authentication":{"basic":{"username":"exporter","password":"s3cret"}}}}}`
	}
	old := env.batches.Sources
	defer func() { env.batches.Sources = old }()

	// Registered, and the operator allows its private address.
	open, err := batch.NewHTTPSources([]string{src.URL + "/remsig-export/"},
		outbound.NewClient(outbound.Config{Timeout: 10 * time.Second, AllowPrivate: true}))
	if err != nil {
		t.Fatal(err)
	}
	env.batches.Sources = open
	r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body(src.URL+"/remsig-export/document123.pdf"))
	if r.status != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("registered source: %d %s (hits %d)", r.status, r.raw, hits.Load())
	}
	for _, u := range []string{src.URL + "/other/document123.pdf", src.URL + "/remsig-export/../x.pdf", "http://example.com/remsig-export/x.pdf"} {
		if r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body(u)); r.status != http.StatusBadRequest || hits.Load() != 1 {
			t.Fatalf("unregistered %s: %d %s (hits %d)", u, r.status, r.raw, hits.Load())
		}
	}

	// Registered, but behind the guard its loopback address is refused at
	// dial time: no request is made.
	guarded, err := batch.NewHTTPSources([]string{src.URL + "/remsig-export/"}, outbound.NewClient(outbound.Config{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	env.batches.Sources = guarded
	r = call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body(src.URL+"/remsig-export/document123.pdf"))
	if r.status != http.StatusBadRequest || hits.Load() != 1 {
		t.Fatalf("private address: %d %s (hits %d)", r.status, r.raw, hits.Load())
	}
	// Validation fetches the same way.
	env.batches.Sources = open
	r = call(t, http.MethodPost, "/api/sign/validate/pdf", tn.secret, "",
		`{"data":{"http":{"url":"`+src.URL+`/remsig-export/a.pdf","headers":{"X-Api-Key":"k1"},"authentication":{"basic":{"username":"exporter","password":"s3cret"}}}}}`)
	if r.status != http.StatusOK || r.body["signable"] != true {
		t.Fatalf("validate from a source: %d %s", r.status, r.raw)
	}
}

// TestDataHTTP_NoPrefetchFetchesWhenSigning: prefetch false makes no
// request until the worker signs; the source's credentials wait sealed.
func TestDataHTTP_NoPrefetchFetchesWhenSigning(t *testing.T) {
	pdf := testPDF(t)
	const password = "src-pass-Vb72kLq"
	var hits atomic.Int64
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "exporter" || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		_, _ = w.Write(pdf)
	}))
	defer src.Close()
	old := env.batches.Sources
	defer func() { env.batches.Sources = old }()
	open, err := batch.NewHTTPSources([]string{src.URL + "/export/"},
		outbound.NewClient(outbound.Config{Timeout: 10 * time.Second, AllowPrivate: true}))
	if err != nil {
		t.Fatal(err)
	}
	env.batches.Sources = open
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	body := func(u string) string {
		return `{"personUniqueId":"` + p.UniqueID + `","name":"later.pdf","data":{"http":{"url":"` + u + `","prefetch":false,` +
			`"authentication":{"basic":{"username":"exporter","password":"` + password + `"}}}}}`
	}
	if r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body(src.URL+"/elsewhere/a.pdf")); r.status != http.StatusBadRequest {
		t.Fatalf("unregistered URL without prefetch: %d %s", r.status, r.raw)
	}
	r := call(t, http.MethodPost, "/api/sign/pdf", tn.secret, "", body(src.URL+"/export/a.pdf"))
	hash, _ := r.body["hash"].(string)
	if r.status != http.StatusOK || hash == "" || hits.Load() != 0 {
		t.Fatalf("prefetch false: %d %s, %d requests made before signing", r.status, r.raw, hits.Load())
	}
	dump, err := env.svc.PG.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump, []byte(hash)) || bytes.Contains(dump, []byte(password)) {
		t.Fatalf("dump holds the batch: %v; holds the source password: %v", bytes.Contains(dump, []byte(hash)), bytes.Contains(dump, []byte(password)))
	}
	page := getPage(t, "/pin/"+hash)
	if !strings.Contains(page, "fetched from its source when signed") {
		t.Fatalf("the PIN page does not say the document comes later:\n%s", page)
	}
	if _, err := env.batches.Authorize(context.Background(), hash, "pin-123456"); err != nil {
		t.Fatal(err)
	}
	signAll(t, hash)
	if hits.Load() != 1 {
		t.Fatalf("%d requests to the source while signing, want 1", hits.Load())
	}
	signed := download(t, tn, hash)["later.pdf"]
	rep, err := pades.Verify(bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{})
	if err != nil || len(rep.Signatures) != 1 || !bytes.HasPrefix(signed, pdf[:len(pdf)-1]) {
		t.Fatalf("the fetched document signed: %v %+v", err, rep)
	}
}

// getPage GETs a page of the server without credentials.
func getPage(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(env.server.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(b)
}
