package remsig_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/outbound"
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
