package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/httpapi"
)

// loggedServer is a router whose request log the test reads.
func loggedServer(t *testing.T, d httpapi.Deps) (*testServer, func() string) {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	d.Log = slogTo(&buf, &mu)
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	d.Accounts = env.accounts
	e, err := httpapi.New(d)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	t.Cleanup(hs.Close)
	return &testServer{Server: hs}, func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
}

func TestClientIP_XForwardedForBelievedOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{"no proxies listed: a loopback peer's header is ignored", nil, "203.0.113.7", "127.0.0.1"},
		{"listed proxy: its client counts", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "203.0.113.7", "203.0.113.7"},
		{"listed proxy: a forged hop before the real client is ignored", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			"198.51.100.1, 203.0.113.7", "203.0.113.7"},
		{"another proxy is listed: header ignored", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.7", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, logs := loggedServer(t, httpapi.Deps{TrustedProxies: tc.trusted})
			s.do(t, call{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Forwarded-For": tc.xff}})
			if !strings.Contains(logs(), "remote_ip="+tc.want) {
				t.Errorf("logged client IP, want %s:\n%s", tc.want, logs())
			}
		})
	}
}

func TestLogs_SigningTokenRedactedByRouteEvenPercentEncoded(t *testing.T) {
	s, logs := loggedServer(t, httpapi.Deps{Mount: []func(*echo.Echo, *echo.Group){func(e *echo.Echo, _ *echo.Group) {
		e.GET("/api/v1/signer/:token/documents/:documentId", func(c echo.Context) error { return echo.ErrNotFound })
	}}})
	const token = "SeCrEtToKeN_x-y"
	for _, spelled := range []string{token, "SeCrEtToKeN%5Fx%2Dy", "%53eCrEtToKeN_x-y"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/signer/"+spelled+"/documents/doc_1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	out := logs()
	if strings.Count(out, "path=/api/v1/signer/[token]/documents/doc_1") != 3 {
		t.Errorf("want three redacted request lines:\n%s", out)
	}
	for _, leak := range []string{"SeCrEt", "eCrEtToKeN", "ToKeN"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log holds the token (%q):\n%s", leak, out)
		}
	}
}

func TestMetrics_NotOpenOnTheAPIPort(t *testing.T) {
	const ops = "ops-token-0123456789abcdef"
	get := func(s *testServer, bearer string) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	noToken, _ := loggedServer(t, httpapi.Deps{})
	withToken, _ := loggedServer(t, httpapi.Deps{OpsToken: ops})
	elsewhere, _ := loggedServer(t, httpapi.Deps{OpsToken: ops, MetricsElsewhere: true})
	for _, tc := range []struct {
		name   string
		s      *testServer
		bearer string
		want   int
	}{
		{"no ops token configured", noToken, "", 404},
		{"ops token configured, not sent", withToken, "", 401},
		{"ops token configured, wrong one", withToken, "nope-nope-nope-nope", 401},
		{"ops token sent", withToken, ops, 200},
		{"metrics on their own listener", elsewhere, ops, 404},
	} {
		if got := get(tc.s, tc.bearer); got != tc.want {
			t.Errorf("%s: GET /metrics = %d, want %d", tc.name, got, tc.want)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "vellum_test_total", Help: "t"}))
	rec := httptest.NewRecorder()
	httpapi.MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "vellum_test_total") {
		t.Errorf("MetricsHandler: %s", rec.Body.String())
	}
}
