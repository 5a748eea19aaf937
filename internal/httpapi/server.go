// Package httpapi is the HTTP adapter: the Echo router, its middleware
// (request ids, logs, metrics, problem+json errors, authentication) and the
// operational endpoints. Handlers decode requests, call domain services and
// encode responses; they hold no business rules.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vellum-sign/vellum/internal/account"
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
	// Queues is the Asynq dashboard, mounted at /ops/queues behind OpsToken.
	Queues   http.Handler
	OpsToken string
	// Mount adds further routes (PKI, TSA, API resources) to the router.
	Mount []func(e *echo.Echo, api *echo.Group)
}

// New builds the router.
func New(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler
	e.Use(requestContext(d.Log))
	e.Use(newHTTPMetrics(d.Registry).middleware())

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(d.Ready))
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry})))
	if d.Queues != nil && d.OpsToken != "" {
		ops := e.Group("/ops/queues", opsAuth(d.OpsToken))
		ops.Any("", echo.WrapHandler(d.Queues))
		ops.Any("/*", echo.WrapHandler(d.Queues))
	}

	api := e.Group("/api/v1")
	for _, m := range d.Mount {
		m(e, api)
	}
	return e
}

func readyz(deps map[string]Pinger) echo.HandlerFunc {
	return func(c echo.Context) error {
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

// RequireAPIKey authenticates `Authorization: Bearer sk_…` against the
// database on every request, so revocation takes effect at once everywhere.
func RequireAPIKey(accounts *account.Service) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Request().Header.Get("Authorization")
			scheme, secret, found := strings.Cut(h, " ")
			if !found || !strings.EqualFold(scheme, "Bearer") || secret == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum"`)
				return NewProblem(http.StatusUnauthorized, "unauthorized", "missing bearer API key: send Authorization: Bearer sk_…")
			}
			k, err := accounts.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
			if err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum", error="invalid_token"`)
				if err == account.ErrInvalidKey {
					return NewProblem(http.StatusUnauthorized, "invalid_api_key", "the API key is invalid or has been revoked")
				}
				return err
			}
			ctx := context.WithValue(c.Request().Context(), keyKey{}, k)
			log := Logger(ctx).With("account_id", k.AccountID, "key_id", k.ID)
			c.SetRequest(c.Request().WithContext(context.WithValue(ctx, loggerKey{}, log)))
			return next(c)
		}
	}
}
