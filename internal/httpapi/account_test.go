package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

type accountJSON struct {
	ID           string   `json:"id"`
	EmbedOrigins []string `json:"embedOrigins"`
}

func TestAccount_EmbedOrigins(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	jsonCT := "application/json"

	// get200: no origins by default.
	r := s.do(t, call{method: "GET", path: "/api/v1/account", key: tn.test})
	var a accountJSON
	r.decode(t, &a)
	if r.status != http.StatusOK || a.ID != tn.account.ID || a.EmbedOrigins == nil || len(a.EmbedOrigins) != 0 || r.header.Get("ETag") != `"v1"` {
		t.Fatalf("get: %d %s ETag %q", r.status, r.body, r.header.Get("ETag"))
	}

	// update200: canonical, deduplicated.
	r = s.do(t, call{method: "PATCH", path: "/api/v1/account", key: tn.test, contentType: jsonCT, header: map[string]string{"If-Match": `"v1"`},
		body: jsonBody(`{"embedOrigins":["https://App.Example.com:443","http://localhost:3000","https://app.example.com/","https://crm.example.org:8443"]}`)})
	r.decode(t, &a)
	want := []string{"https://app.example.com", "http://localhost:3000", "https://crm.example.org:8443"}
	if r.status != http.StatusOK || !slices.Equal(a.EmbedOrigins, want) || r.header.Get("ETag") != `"v2"` {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/account", key: tn.live})
	r.decode(t, &a)
	if !slices.Equal(a.EmbedOrigins, want) {
		t.Fatalf("get after update (live key, same account): %s", r.body)
	}

	// update412: stale If-Match changes nothing.
	r = s.do(t, call{method: "PATCH", path: "/api/v1/account", key: tn.test, contentType: jsonCT, header: map[string]string{"If-Match": `"v1"`},
		body: jsonBody(`{"embedOrigins":[]}`)})
	if r.status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}

	// update400: every bad origin named with its path and reason.
	many := `"https://a.example.com"` + strings.Repeat(`,"https://a.example.com"`, 20)
	for _, tc := range []struct {
		body, param, reason string
	}{
		{`{"embedOrigins":["http://app.example.com"]}`, "embedOrigins[0]", "https"},
		{`{"embedOrigins":["https://ok.example.com","https://app.example.com/embed"]}`, "embedOrigins[1]", "without a path"},
		{`{"embedOrigins":["https://app.example.com?x=1"]}`, "embedOrigins[0]", "query"},
		{`{"embedOrigins":["https://*.example.com"]}`, "embedOrigins[0]", "wildcards"},
		{`{"embedOrigins":["https://user@app.example.com"]}`, "embedOrigins[0]", "user name"},
		{`{"embedOrigins":["app.example.com"]}`, "embedOrigins[0]", "origin"},
		{`{"embedOrigins":["javascript:alert(1)"]}`, "embedOrigins[0]", "origin"},
		{`{"embedOrigins":["https://app.example.com:99999"]}`, "embedOrigins[0]", "port"},
		{`{"embedOrigins":["https://bad_host.example.com"]}`, "embedOrigins[0]", "host"},
		{`{"embedOrigins":[` + many + `]}`, "embedOrigins", "at most 20"},
		{`{"embedOrigins":[42]}`, "embedOrigins[0]", ""},
		{`{"embedOrigins":"https://app.example.com"}`, "embedOrigins", ""},
		{`{"embedOrigins":null}`, "embedOrigins", "required"},
		{`{}`, "embedOrigins", "required"},
		{`{"embedOrigins":[],"name":"x"}`, "name", ""},
	} {
		r := s.do(t, call{method: "PATCH", path: "/api/v1/account", key: tn.test, contentType: jsonCT, body: jsonBody(tc.body)})
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", tc.body, r.status, r.body)
			continue
		}
		p := r.problem(t)
		found := false
		for _, ip := range p.InvalidParams {
			if ip.Name == tc.param && strings.Contains(ip.Reason, tc.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: invalidParams %+v, want %s (%q)", tc.body, p.InvalidParams, tc.param, tc.reason)
		}
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/account", key: tn.test})
	r.decode(t, &a)
	if !slices.Equal(a.EmbedOrigins, want) {
		t.Fatalf("a refused update changed the account: %s", r.body)
	}

	// Clearing.
	r = s.do(t, call{method: "PATCH", path: "/api/v1/account", key: tn.test, contentType: jsonCT, body: jsonBody(`{"embedOrigins":[]}`)})
	r.decode(t, &a)
	if r.status != http.StatusOK || len(a.EmbedOrigins) != 0 {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
}
