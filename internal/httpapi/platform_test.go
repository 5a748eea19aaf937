package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
)

type keyJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Prefix      string  `json:"prefix"`
	Environment string  `json:"environment"`
	LastUsedAt  *string `json:"lastUsedAt"`
	Secret      string  `json:"secret"`
}

func TestKeys_CreateListRevoke(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	r := s.do(t, call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/json", body: jsonBody(`{"name":"CRM integration"}`)})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var k keyJSON
	r.decode(t, &k)
	if !regexp.MustCompile(`^sk_test_[0-9A-Za-z]{32}$`).MatchString(k.Secret) || k.Environment != "test" || k.Name != "CRM integration" || !strings.HasPrefix(k.Secret, k.Prefix) {
		t.Fatalf("created key %+v", k)
	}
	// The new key works and sees the same environment's data.
	d := upload(t, s, k.Secret, "a.pdf", fixture(t, "test.pdf"))
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents/" + d.ID, key: tn.test}); r.status != http.StatusOK {
		t.Errorf("sibling key: %d", r.status)
	}
	// A key without a body and name.
	if r := s.do(t, call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test}); r.status != http.StatusCreated {
		t.Errorf("create without body: %d %s", r.status, r.body)
	}

	list := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys?sort=-createdAt", key: tn.test})
	var l listJSON[keyJSON]
	list.decode(t, &l)
	if l.Total != 3 || l.Count != 3 {
		t.Fatalf("list: %s", list.body)
	}
	for _, lk := range l.Data {
		if lk.Secret != "" || lk.Environment != "test" {
			t.Errorf("listed key shows secret or other environment: %+v", lk)
		}
		if lk.ID == k.ID && lk.LastUsedAt == nil {
			t.Errorf("used key has no lastUsedAt")
		}
	}
	if bytes.Contains(list.body, []byte(tn.live[8:])) || bytes.Contains(list.body, []byte(tn.liveKeyInfo.ID)) {
		t.Errorf("test key listed the live key")
	}

	// Revocation is effective on the very next request, on another instance too.
	other := newServer(t, serverOptions{})
	if r := s.do(t, call{method: http.MethodDelete, path: "/api/v1/keys/" + k.ID, key: tn.test}); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for _, srv := range []*testServer{s, other} {
		r := srv.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: k.Secret})
		if r.status != http.StatusUnauthorized || r.problem(t).Code != "invalid_api_key" {
			t.Errorf("revoked key: %d %s", r.status, r.body)
		}
	}
	if r := s.do(t, call{method: http.MethodDelete, path: "/api/v1/keys/" + k.ID, key: tn.test}); r.status != http.StatusNotFound {
		t.Errorf("revoke twice: %d", r.status)
	}
	// A key may revoke itself; the next request fails.
	if r := s.do(t, call{method: http.MethodDelete, path: "/api/v1/keys/" + tn.testKey.ID, key: tn.test}); r.status != http.StatusNoContent {
		t.Fatalf("self-revoke: %d", r.status)
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", key: tn.test}); r.status != http.StatusUnauthorized {
		t.Errorf("self-revoked key still works: %d", r.status)
	}
}

func TestKeys_Refused(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn, other := newTenant(t), newTenant(t)
	cases := []struct {
		name   string
		c      call
		status int
		code   string
		params []string
	}{
		{"test key creating a live key", call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/json", body: jsonBody(`{"environment":"live"}`)}, 403, "environment_mismatch", nil},
		{"unknown environment, wrong type, unknown field", call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/json", body: jsonBody(`{"environment":"prod","name":{"a":1},"scopes":["all"]}`)}, 400, "validation_failed", []string{"environment", "name", "scopes"}},
		{"name too long", call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/json", body: jsonBody(`{"name":"` + repeat("n", 256) + `"}`)}, 400, "validation_failed", []string{"name"}},
		{"form body", call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, contentType: "application/x-www-form-urlencoded", body: jsonBody(`name=x`)}, 415, "unsupported_media_type", nil},
		{"another account's key", call{method: http.MethodDelete, path: "/api/v1/keys/" + other.testKey.ID, key: tn.test}, 404, "not_found", nil},
		{"own live key from test", call{method: http.MethodDelete, path: "/api/v1/keys/" + tn.liveKeyInfo.ID, key: tn.test}, 404, "not_found", nil},
		{"bad list params", call{method: http.MethodGet, path: "/api/v1/keys?limit=abc&sort=secret", key: tn.test}, 400, "validation_failed", []string{"limit", "sort"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.c)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			p := r.problem(t)
			if p.Code != tc.code {
				t.Errorf("code %q, want %q", p.Code, tc.code)
			}
			var names []string
			for _, ip := range p.InvalidParams {
				names = append(names, ip.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.params, ",") {
				t.Errorf("invalidParams %v, want %v", p.InvalidParams, tc.params)
			}
		})
	}
	// Nothing was revoked.
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", key: other.test}); r.status != http.StatusOK {
		t.Errorf("other account's key: %d", r.status)
	}
}

func TestAuth_Refused(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	cases := []struct {
		name, header, code string
	}{
		{"no header", "", "unauthorized"},
		{"basic auth", "Basic dXNlcjpwYXNz", "unauthorized"},
		{"empty bearer", "Bearer ", "unauthorized"},
		{"not a key", "Bearer hello", "invalid_api_key"},
		{"unknown key", "Bearer sk_test_00000000000000000000000000000000", "invalid_api_key"},
		{"truncated key", "Bearer " + tn.test[:20], "invalid_api_key"},
	}
	for _, tc := range cases {
		for _, path := range []string{"/api/v1/documents", "/api/v1/keys", "/api/v1/documents/doc_x/content"} {
			t.Run(tc.name+path, func(t *testing.T) {
				c := call{method: http.MethodGet, path: path}
				if tc.header != "" {
					c.header = map[string]string{"Authorization": tc.header}
				}
				r := s.do(t, c)
				if r.status != http.StatusUnauthorized || r.problem(t).Code != tc.code || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%d %s %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	// Lower-case scheme is accepted (RFC 9110: case-insensitive).
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", header: map[string]string{"Authorization": "bearer " + tn.test}}); r.status != http.StatusOK {
		t.Errorf("lower-case bearer: %d", r.status)
	}
}

var rateLimitHeader = regexp.MustCompile(`^"default";r=(\d+);t=(\d+)$`)

// TestRateLimit_SharedAcrossInstances: two routers on one Redis spend one
// budget per key.
func TestRateLimit_SharedAcrossInstances(t *testing.T) {
	limits := httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 6, Burst: 4}, PerIP: httpapi.RateLimit{PerMinute: 1000, Burst: 1000}}
	a, b := newServer(t, serverOptions{limits: limits}), newServer(t, serverOptions{limits: limits})
	tn, other := newTenant(t), newTenant(t)
	for i := range 4 {
		srv := []*testServer{a, b}[i%2]
		r := srv.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.test})
		if r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
		if p := r.header.Get("RateLimit-Policy"); p != `"default";q=6;w=60` {
			t.Errorf("RateLimit-Policy %q", p)
		}
		m := rateLimitHeader.FindStringSubmatch(r.header.Get("RateLimit"))
		if m == nil || m[1] != strconv.Itoa(3-i) {
			t.Errorf("request %d: RateLimit %q, want r=%d", i+1, r.header.Get("RateLimit"), 3-i)
		}
	}
	for _, srv := range []*testServer{a, b} {
		r := srv.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.test})
		if r.status != http.StatusTooManyRequests || r.problem(t).Code != "rate_limited" {
			t.Fatalf("over the limit: %d %s", r.status, r.body)
		}
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 10 {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
		if m := rateLimitHeader.FindStringSubmatch(r.header.Get("RateLimit")); m == nil || m[1] != "0" {
			t.Errorf("RateLimit on 429: %q", r.header.Get("RateLimit"))
		}
	}
	// Another key, even of the same account, has its own budget.
	if r := a.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.live}); r.status != http.StatusOK {
		t.Errorf("live key of the same account: %d", r.status)
	}
	if r := b.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: other.test}); r.status != http.StatusOK {
		t.Errorf("other account: %d", r.status)
	}
}

// TestRateLimit_PerIPOnPublicRoutes: unauthenticated requests spend the
// client IP's budget, failed authentication included.
func TestRateLimit_PerIPOnPublicRoutes(t *testing.T) {
	limits := httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 1000, Burst: 1000}, PerIP: httpapi.RateLimit{PerMinute: 60, Burst: 3}}
	s := newServer(t, serverOptions{limits: limits})
	ip := map[string]string{"X-Forwarded-For": "203.0.113.77"}
	for i := range 3 {
		r := s.do(t, call{method: http.MethodGet, path: "/api/openapi.json", header: ip})
		if r.status != http.StatusOK || r.header.Get("RateLimit-Policy") != `"ip";q=60;w=60` {
			t.Fatalf("request %d: %d %q", i+1, r.status, r.header.Get("RateLimit-Policy"))
		}
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/docs", header: ip}); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the IP limit: %d", r.status)
	}
	// Failed authentication is charged to the IP as well.
	bad := map[string]string{"X-Forwarded-For": "203.0.113.78", "Authorization": "Bearer sk_test_wrongwrongwrongwrongwrongwrongwr"}
	for range 3 {
		if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", header: bad}); r.status != http.StatusUnauthorized {
			t.Fatalf("bad key: %d", r.status)
		}
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", header: bad}); r.status != http.StatusTooManyRequests {
		t.Fatalf("guessing keys is not limited: %d", r.status)
	}
	// Probes are never limited.
	for range 5 {
		if r := s.do(t, call{method: http.MethodGet, path: "/healthz", header: ip}); r.status != http.StatusOK {
			t.Fatalf("healthz limited: %d", r.status)
		}
	}
}

func TestIdempotency(t *testing.T) {
	s, other := newServer(t, serverOptions{}), newServer(t, serverOptions{})
	tn := newTenant(t)
	plain := fixture(t, "test.pdf")
	post := func(srv *testServer, key, idem string, data []byte, query string) result {
		return srv.do(t, call{method: http.MethodPost, path: "/api/v1/documents" + query, key: key, contentType: "application/pdf",
			body: bytes.NewReader(data), header: map[string]string{"Idempotency-Key": idem}})
	}
	first := post(s, tn.test, "upload-1", plain, "?title=A")
	if first.status != http.StatusCreated || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	// The same request again, on another instance: replayed, not repeated.
	again := post(other, tn.test, "upload-1", plain, "?title=A")
	if again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.body, first.body) ||
		again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("replay: %d %q %s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	var l listJSON[documentJSON]
	s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.test}).decode(t, &l)
	if l.Total != 1 {
		t.Errorf("a replay created another document: %d", l.Total)
	}
	// Another body or query with the same key.
	if r := post(s, tn.test, "upload-1", lockedPDF(), "?title=A"); r.status != http.StatusUnprocessableEntity || r.problem(t).Code != "idempotency_key_reused" {
		t.Errorf("other body: %d %s", r.status, r.body)
	}
	if r := post(s, tn.test, "upload-1", plain, "?title=B"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("other query: %d", r.status)
	}
	// Another endpoint with the same key.
	if r := s.do(t, call{method: http.MethodPost, path: "/api/v1/keys", key: tn.test, header: map[string]string{"Idempotency-Key": "upload-1"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("other endpoint: %d %s", r.status, r.body)
	}
	// Keys are scoped per API key: another key's "upload-1" is new.
	if r := post(s, tn.live, "upload-1", plain, "?title=A"); r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("other API key: %d %q", r.status, r.header.Get("Idempotent-Replayed"))
	}
	// Errors are replayed too (4xx are final), but a 5xx would release the key.
	bad := post(s, tn.test, "upload-2", []byte("not a pdf"), "")
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad upload: %d", bad.status)
	}
	if r := post(s, tn.test, "upload-2", []byte("not a pdf"), ""); r.status != http.StatusUnprocessableEntity || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed error: %d %q", r.status, r.header.Get("Idempotent-Replayed"))
	}
	// Still running: 409.
	store := idempotency.NewStore(env.pg.DB)
	if rec, err := store.Claim(context.Background(), tn.testKey.ID, "upload-3", http.MethodPost, "/api/v1/documents"); err != nil || rec != nil {
		t.Fatalf("claim: %v %v", rec, err)
	}
	if r := post(s, tn.test, "upload-3", plain, ""); r.status != http.StatusConflict || r.problem(t).Code != "idempotency_key_in_use" {
		t.Errorf("in flight: %d %s", r.status, r.body)
	}
	if err := store.Release(context.Background(), tn.testKey.ID, "upload-3"); err != nil {
		t.Fatal(err)
	}
	if r := post(s, tn.test, "upload-3", plain, ""); r.status != http.StatusCreated {
		t.Errorf("after release: %d", r.status)
	}
	// Malformed keys.
	if r := post(s, tn.test, repeat("k", 256), plain, ""); r.status != http.StatusBadRequest {
		t.Errorf("long key: %d", r.status)
	}
}

// TestIdempotency_ConcurrentRequests: of two simultaneous requests with one
// key, exactly one runs; the other is 409 or a replay.
func TestIdempotency_ConcurrentRequests(t *testing.T) {
	s := newServer(t, serverOptions{})
	tn := newTenant(t)
	plain := paddedPDF(2 << 20)
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do(t, call{method: http.MethodPost, path: "/api/v1/documents", key: tn.test, contentType: "application/pdf",
				body: bytes.NewReader(plain), header: map[string]string{"Idempotency-Key": "race"}})
			statuses[i] = r.status
		}()
	}
	wg.Wait()
	var l listJSON[documentJSON]
	s.do(t, call{method: http.MethodGet, path: "/api/v1/documents", key: tn.test}).decode(t, &l)
	if l.Total != 1 {
		t.Errorf("%d documents from one idempotency key (statuses %v)", l.Total, statuses)
	}
	for _, st := range statuses {
		if st != http.StatusCreated && st != http.StatusConflict {
			t.Errorf("statuses %v", statuses)
		}
	}
}

// TestPanic_AnsweredAsProblem: a panicking handler is logged with the
// request id and answered 500 problem+json.
func TestPanic_AnsweredAsProblem(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e, err := httpapi.New(httpapi.Deps{
		Log:      slogTo(&logs, &mu),
		Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Mount: []func(*echo.Echo, *echo.Group){func(_ *echo.Echo, api *echo.Group) {
			api.GET("/boom", func(echo.Context) error { panic("boom") })
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	tn := newTenant(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/boom", nil)
	req.Header.Set("Authorization", "Bearer "+tn.test)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := result{status: resp.StatusCode, header: resp.Header, body: body}
	if r.status != 500 || r.problem(t).Code != "internal_error" || bytes.Contains(body, []byte("boom")) {
		t.Fatalf("panic: %d %s", r.status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), resp.Header.Get("Operation-Id")) || !strings.Contains(logs.String(), "panic") {
		t.Errorf("panic not logged with its request id: %s", logs.String())
	}
}

var _ = fmt.Sprint

// No configuration produces an API without authentication: the router is
// not built without the account service.
func TestNew_RefusesToBuildWithoutAccounts(t *testing.T) {
	e, err := httpapi.New(httpapi.Deps{Registry: prometheus.NewRegistry(),
		Mount: []func(*echo.Echo, *echo.Group){func(_ *echo.Echo, api *echo.Group) {
			api.GET("/open", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
		}}})
	if err == nil || e != nil {
		t.Fatalf("New without Accounts: router %v, err %v", e, err)
	}
}
