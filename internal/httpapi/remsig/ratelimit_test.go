package remsig_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/remsig"
)

// TestRateLimit_PerKeyOnRemSigPaths: a key's /api/v1 budget applies to
// RemSig's operations too, one budget for both; the 429 is RemSig's error
// (operationId, Operation-Id) with Retry-After, and another key is not
// held back.
func TestRateLimit_PerKeyOnRemSigPaths(t *testing.T) {
	e, err := httpapi.New(httpapi.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Redis: env.svc.Redis.Client, RateLimits: httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 1, Burst: 3},
			PerIP: httpapi.RateLimit{PerMinute: 1000, Burst: 1000}},
		Mount: []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(env.accounts),
			remsig.Routes(remsig.Deps{Accounts: env.accounts, Persons: env.persons, Batches: env.batches})},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	tn, other := newTenant(t), newTenant(t)
	do := func(path, secret string, basic bool) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		if basic {
			req.SetBasicAuth(secret, "")
		} else {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// Burst 3: one on /api/v1, two on RemSig, then RemSig is refused.
	for i, c := range []struct {
		path  string
		basic bool
	}{{"/api/v1/keys", false}, {"/api/certificate/", true}, {"/api/batch/", true}} {
		resp := do(c.path, tn.secret, c.basic)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst (%s): %d", i, c.path, resp.StatusCode)
		}
	}
	resp := do("/api/certificate/", tn.secret, true)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	op, _ := body["operationId"].(float64)
	if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || body["code"] != "rate_limited" ||
		op == 0 || resp.Header.Get("Operation-Id") != strconv.FormatInt(int64(op), 10) {
		t.Fatalf("over the limit: %d Retry-After %q Operation-Id %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Operation-Id"), raw)
	}
	if resp := do("/api/v1/keys", tn.secret, false); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("/api/v1 after RemSig spent the budget: %d", resp.StatusCode)
	}
	if resp := do("/api/certificate/", other.secret, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("another key: %d", resp.StatusCode)
	}
}
