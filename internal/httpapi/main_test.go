package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/openapi"
)

// env is the package's shared real services: one PostgreSQL database and
// one Redis database for every test here.
var env struct {
	pg       *testenv.Postgres
	redis    *testenv.Redis
	accounts *account.Service
	blobDir  string
	blobs    blob.Store
	router   routers.Router
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := testenv.StartServices(ctx, "httpapi")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer svc.Close()
	env.pg, env.redis = svc.PG, svc.Redis
	env.accounts = account.NewService(env.pg.DB)
	if env.blobDir, err = os.MkdirTemp("", "vellum-httpapi-blobs-*"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(env.blobDir)
	if env.blobs, err = blob.NewFSStore(env.blobDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env.router, err = contractRouter(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// contractRouter loads openapi/openapi.yaml with kin-openapi.
func contractRouter() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid document: %w", err)
	}
	doc.Servers = nil
	return legacy.NewRouter(doc)
}

// loopbackProxy lists the test client as the operator's proxy, so a test
// can be its own client address through X-Forwarded-For.
var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// serverOptions tune one test server.
type serverOptions struct {
	limits  httpapi.RateLimits
	maxSize int64
	blobs   blob.Store
	usage   document.UsageChecker
}

// testServer is the full router in httptest, as `vellum serve` builds it.
type testServer struct {
	*httptest.Server
	docs *document.Service
}

func newServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	if o.blobs == nil {
		o.blobs = env.blobs
	}
	if o.usage == nil {
		o.usage = envelope.NewDocumentUsage(env.pg.DB)
	}
	if o.limits == (httpapi.RateLimits{}) {
		// Generous by default so tests that are not about limits are not limited.
		o.limits = httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 100000, Burst: 100000},
			PerIP: httpapi.RateLimit{PerMinute: 100000, Burst: 100000}}
	}
	docs := document.NewService(env.pg.DB, o.blobs, o.usage, document.Config{MaxSize: o.maxSize})
	maxBody := docs.MaxSize() + 1<<20
	e, err := httpapi.New(httpapi.Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Redis: env.redis.Client, RateLimits: o.limits,
		Idempotency: idempotency.NewStore(env.pg.DB), MaxRequestBytes: maxBody,
		TrustedProxies: loopbackProxy,
		Mount:          []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(env.accounts), httpapi.AccountRoutes(env.accounts), httpapi.DocumentRoutes(docs)},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(e)
	t.Cleanup(s.Close)
	return &testServer{Server: s, docs: docs}
}

// tenant is an account with a test key and a live key.
type tenant struct {
	account     *account.Account
	test, live  string
	testKey     *account.Key
	liveKeyInfo *account.Key
}

func newTenant(t testing.TB) *tenant {
	t.Helper()
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Tenant "+t.Name(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tk, test, err := env.accounts.CreateKey(ctx, a.ID, account.Test, "test key")
	if err != nil {
		t.Fatal(err)
	}
	lk, live, err := env.accounts.CreateKey(ctx, a.ID, account.Live, "live key")
	if err != nil {
		t.Fatal(err)
	}
	return &tenant{account: a, test: test, live: live, testKey: tk, liveKeyInfo: lk}
}

// client returns an HTTP client whose every response is checked against
// openapi.yaml: an undocumented route, status, header or body fails t.
func (s *testServer) client(t testing.TB) *http.Client {
	return &http.Client{Transport: &contractTransport{t: t, next: http.DefaultTransport}, Timeout: 5 * time.Minute}
}

type contractTransport struct {
	t    testing.TB
	next http.RoundTripper
}

// contractChecked counts validated responses, to show the check is live.
var contractChecked struct {
	sync.Mutex
	n int
}

func (ct *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Keep a copy of the request body for request matching (the body
	// itself is not validated: tests send invalid requests on purpose).
	resp, err := ct.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	route, pathParams, rerr := env.router.FindRoute(req)
	if rerr != nil {
		// Undocumented routes may only answer problems for unknown paths.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed &&
			resp.StatusCode != http.StatusUnauthorized {
			ct.t.Errorf("contract: %s %s is not in openapi.yaml (status %d)", req.Method, req.URL.Path, resp.StatusCode)
		}
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: pathParams, Route: route,
		},
		Status: resp.StatusCode,
		Header: resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	in.SetBodyBytes(body)
	if verr := openapi3filter.ValidateResponse(req.Context(), in); verr != nil {
		ct.t.Errorf("contract: %s %s → %d violates openapi.yaml: %v\nbody: %.500s",
			req.Method, req.URL.Path, resp.StatusCode, verr, body)
	}
	contractChecked.Lock()
	contractChecked.n++
	contractChecked.Unlock()
	return resp, nil
}

func init() {
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// call sends a request and decodes a JSON answer into out (when non-nil).
type call struct {
	method, path string
	key          string
	header       map[string]string
	contentType  string
	body         io.Reader
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) problem(t testing.TB) httpapi.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p httpapi.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.body)
	}
	if p.Status != r.status || p.Code == "" || p.TraceID == "" || p.TraceID != r.header.Get("Operation-Id") {
		t.Fatalf("problem %+v does not match status %d / Operation-Id %q", p, r.status, r.header.Get("Operation-Id"))
	}
	return p
}

func (r result) decode(t testing.TB, out any) {
	t.Helper()
	if err := json.Unmarshal(r.body, out); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (s *testServer) do(t testing.TB, c call) result {
	t.Helper()
	req, err := http.NewRequest(c.method, s.URL+c.path, c.body)
	if err != nil {
		t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := s.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Operation-Id") == "" {
		t.Errorf("%s %s: no Operation-Id header", c.method, c.path)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func slogTo(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w, mu}, nil))
}
