// Package httpapi is the HTTP adapter: the Echo router, its middleware
// (request ids, logs, metrics, problem+json errors, authentication) and the
// operational endpoints. Handlers decode requests, call domain services and
// encode responses; they hold no business rules.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redis/go-redis/v9"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/jobs"
)

// Pinger is anything /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the HTTP layer is built from.
type Deps struct {
	Log      *slog.Logger
	Registry *prometheus.Registry
	Accounts *account.Service
	// Ready lists the dependencies /readyz checks, by name.
	Ready map[string]Pinger
	// Draining, when it reports true, makes /readyz answer 503 (the
	// process got SIGTERM and is about to stop accepting).
	Draining func() bool
	// Queues is the Asynq dashboard, mounted at /ops/queues behind OpsToken.
	Queues   http.Handler
	OpsToken string
	// MetricsElsewhere says /metrics has its own listener (MetricsHandler,
	// VELLUM_METRICS_ADDR). Otherwise the router serves it behind OpsToken,
	// and not at all without one: it is not for the public API port.
	MetricsElsewhere bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (VELLUM_TRUSTED_PROXIES); with none, the peer address is the client.
	TrustedProxies []netip.Prefix
	// Mount adds further routes (PKI, TSA, API resources) to the router.
	// api is the authenticated /api/v1 group: bearer API key, per-key rate
	// limit, request body cap and Idempotency-Key handling. Public routes
	// (signer API, PKI) go on e, where the per-IP limit applies.
	Mount []func(e *echo.Echo, api *echo.Group)

	// Redis backs the rate limiters, shared by every instance; nil disables
	// rate limiting.
	Redis      redis.UniversalClient
	RateLimits RateLimits
	// Idempotency stores Idempotency-Key records; nil ignores the header.
	Idempotency *idempotency.Store
	// MaxRequestBytes caps any request body under /api/v1 (default: 51 MiB,
	// the default upload limit and room for multipart framing).
	MaxRequestBytes int64
}

// New builds the router. Accounts is required: every route of the api
// group authenticates, and no configuration turns that off.
func New(d Deps) (*echo.Echo, error) {
	if d.Accounts == nil {
		return nil, errors.New("httpapi: Deps.Accounts is required to authenticate /api/v1")
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler
	e.IPExtractor = clientIP(d.TrustedProxies)
	lim := newLimiter(d.Redis, d.RateLimits)
	e.Use(requestContext(d.Log))
	e.Use(newHTTPMetrics(d.Registry).middleware())
	e.Use(bodyDeadline, refuseBadStrings)
	e.Use(lim.ipRateLimit(), lim.provide())

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(d.Ready, d.Draining))
	if !d.MetricsElsewhere && d.OpsToken != "" {
		e.GET("/metrics", echo.WrapHandler(MetricsHandler(d.Registry)), opsAuth(d.OpsToken))
	}
	if d.Queues != nil && d.OpsToken != "" {
		ops := e.Group("/ops/queues", opsAuth(d.OpsToken), publishQueues(d.Redis))
		ops.Any("", echo.WrapHandler(d.Queues))
		ops.Any("/*", echo.WrapHandler(d.Queues))
	}

	e.GET("/api/openapi.json", serveOpenAPI)
	e.GET("/docs", serveDocsPage)

	maxBody := d.MaxRequestBytes
	if maxBody <= 0 {
		maxBody = 51 << 20
	}
	api := e.Group("/api/v1", requireAPIKey(d.Accounts, lim), lim.keyRateLimit(), capBody(maxBody), idempotent(d.Idempotency))
	// Group middleware makes Echo route every unmatched /api/v1 path to a
	// catch-all 404; tell a wrong method (405) from an unknown path.
	api.RouteNotFound("", methodNotAllowedOrNotFound(e))
	api.RouteNotFound("/*", methodNotAllowedOrNotFound(e))
	for _, m := range d.Mount {
		m(e, api)
	}
	return e, nil
}

// asynqQueuesKey is the Redis set of queue names Asynq's inspector (and so
// the dashboard) lists. Asynq adds a queue to it only on a client's first
// enqueue to that queue, so after a FLUSHALL the set stays empty while the
// outbox re-relays tasks through the same long-lived client.
const asynqQueuesKey = "asynq:queues"

// publishQueues puts every queue of jobs.Queues back into Asynq's set of
// queues before the dashboard reads it, so it shows what sits in Redis.
func publishQueues(rdb redis.UniversalClient) echo.MiddlewareFunc {
	names := make([]any, 0, len(jobs.Queues))
	for q := range jobs.Queues {
		names = append(names, q)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if rdb != nil {
				if err := rdb.SAdd(c.Request().Context(), asynqQueuesKey, names...).Err(); err != nil {
					Logger(c.Request().Context()).Warn("publish queue names for the dashboard", "err", err)
				}
			}
			return next(c)
		}
	}
}

// MetricsHandler serves the Prometheus metrics of reg.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// OpsListenerHandler is what the separate VELLUM_METRICS_ADDR listener
// serves: /metrics, and Go's profiles under /debug/pprof/ (CPU, heap,
// goroutines, …; not cmdline, which may carry secrets), so that an
// operator can see where a node's CPU goes. CPU samples carry the labels
// route (HTTP) and task (worker): `go tool pprof -tags` splits by them.
func OpsListenerHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", MetricsHandler(reg))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// clientIP believes X-Forwarded-For only as far as it was written by the
// operator's listed proxies: walking from the peer backwards, the first
// address that is not a trusted proxy is the client. Nothing is trusted by
// default (not even loopback or private peers), so a signer cannot choose
// the IP of the audit trail or of the per-IP limit.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func readyz(deps map[string]Pinger, draining func() bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if draining != nil && draining() {
			c.Response().Header().Set("Retry-After", unavailableRetryAfter)
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "draining", "checks": map[string]string{}})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{}
		status := http.StatusOK
		for name, p := range deps {
			if err := p.Ping(ctx); err != nil {
				checks[name] = "unavailable: " + err.Error()
				status = http.StatusServiceUnavailable
				Logger(ctx).Warn("readiness check failed", "dependency", name, "err", err)
				continue
			}
			checks[name] = "ok"
		}
		body := map[string]any{"status": "ready", "checks": checks}
		if status != http.StatusOK {
			body["status"] = "not ready"
			c.Response().Header().Set("Retry-After", unavailableRetryAfter)
		}
		return c.JSON(status, body)
	}
}

// opsAuth admits the operator token as a bearer token, as the password of
// HTTP Basic auth (so a browser can open the dashboard), or as a cookie set
// by visiting the dashboard once with ?token=.
func opsAuth(token string) echo.MiddlewareFunc {
	ok := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if b, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(b) {
				return next(c)
			}
			if _, pw, found := r.BasicAuth(); found && ok(pw) {
				return next(c)
			}
			if ck, err := r.Cookie("vellum_ops"); err == nil && ok(ck.Value) {
				return next(c)
			}
			if q := r.URL.Query().Get("token"); q != "" && ok(q) {
				c.SetCookie(&http.Cookie{Name: "vellum_ops", Value: token, Path: "/ops/", HttpOnly: true,
					SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
				return next(c)
			}
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="vellum-ops"`)
			return NewProblem(http.StatusUnauthorized, "unauthorized", "operator token required")
		}
	}
}

// keyKey is the context key of the authenticated API key.
type keyKey struct{}

// APIKey returns the authenticated key of the request.
func APIKey(c echo.Context) *account.Key {
	k, _ := c.Request().Context().Value(keyKey{}).(*account.Key)
	return k
}

// requireAPIKey authenticates `Authorization: Bearer sk_…` against the
// database on every request, so revocation takes effect at once everywhere,
// and charges failed attempts to the client's IP budget, which slows down
// key guessing.
func requireAPIKey(accounts *account.Service, lim *limiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get("Authorization")
			scheme, secret, found := strings.Cut(h, " ")
			if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
				if err := lim.allowIP(c); err != nil {
					return err
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum"`)
				return NewProblem(http.StatusUnauthorized, "unauthorized", "missing bearer API key: send Authorization: Bearer sk_…")
			}
			k, err := accounts.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
			if err != nil {
				if errors.Is(err, account.ErrInvalidKey) {
					if err := lim.allowIP(c); err != nil {
						return err
					}
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum", error="invalid_token"`)
					return NewProblem(http.StatusUnauthorized, "invalid_api_key", "the API key is invalid or has been revoked")
				}
				return err
			}
			ctx := context.WithValue(c.Request().Context(), keyKey{}, k)
			log := Logger(ctx).With("account_id", k.AccountID, "key_id", k.ID, "environment", string(k.Environment))
			c.SetRequest(c.Request().WithContext(context.WithValue(ctx, loggerKey{}, log)))
			return next(c)
		}
	}
}

// capBody bounds every request body; handlers with tighter limits apply
// their own.
func capBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
					fmt.Sprintf("the request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, n))
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

// methodNotAllowedOrNotFound answers 405 with Allow when another method is
// routed at the request's path, else 404.
func methodNotAllowedOrNotFound(e *echo.Echo) echo.HandlerFunc {
	return func(c echo.Context) error {
		path := c.Request().URL.Path
		var allow []string
		for _, r := range e.Routes() {
			if r.Method == echo.RouteNotFound || strings.HasSuffix(r.Path, "/*") || !templateMatches(r.Path, path) {
				continue
			}
			if !contains(allow, r.Method) {
				allow = append(allow, r.Method)
			}
		}
		if len(allow) == 0 {
			return echo.ErrNotFound
		}
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
		return NewProblem(http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed here; use %s", c.Request().Method, strings.Join(allow, ", ")))
	}
}

// templateMatches reports whether an Echo route template (with :params)
// matches a request path.
func templateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], ":") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}
