package remsig_test

import (
	"io"
	"net/http"
	"regexp"
	"testing"
)

// TestETag_ConditionalGET: GET answers carry RemSig's ETag form, stable
// while the resource is (operationId aside), a matching If-None-Match is
// a 304 without a body, and a change changes the tag.
func TestETag_ConditionalGET(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	get := func(path, ifNoneMatch string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, env.server.URL+path, nil)
		req.SetBasicAuth(tn.secret, "")
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	form := regexp.MustCompile(`^"0[0-9a-f]{32}"$`)
	r1, b1 := get("/api/batch/", "")
	r2, b2 := get("/api/batch/", "")
	tag := r1.Header.Get("ETag")
	if r1.StatusCode != http.StatusOK || !form.MatchString(tag) || r2.Header.Get("ETag") != tag || string(b1) == string(b2) {
		t.Fatalf("ETags %q %q (bodies differ by operationId: %v)", tag, r2.Header.Get("ETag"), string(b1) != string(b2))
	}
	r3, b3 := get("/api/batch/", `"other", `+tag)
	if r3.StatusCode != http.StatusNotModified || len(b3) != 0 || r3.Header.Get("ETag") != tag || r3.Header.Get("Operation-Id") == "" {
		t.Fatalf("conditional GET: %d %q %v", r3.StatusCode, b3, r3.Header)
	}
	call(t, http.MethodPost, "/api/batch/create", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`"}`)
	r4, _ := get("/api/batch/", tag)
	if r4.StatusCode != http.StatusOK || r4.Header.Get("ETag") == tag || !form.MatchString(r4.Header.Get("ETag")) {
		t.Fatalf("after a change: %d %q", r4.StatusCode, r4.Header.Get("ETag"))
	}
	if r, _ := get("/api/batch/nonexistent0", ""); r.StatusCode != http.StatusNotFound || r.Header.Get("ETag") != "" {
		t.Fatalf("an error has no ETag: %d %q", r.StatusCode, r.Header.Get("ETag"))
	}
}
