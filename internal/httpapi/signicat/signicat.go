// Package signicat serves Signicat's Sign API v2 at Signicat's own paths
// under /sign/ (documents, document collections, merchant signing; signing
// sessions are added beside them) and its OAuth 2.0 token endpoint
// /auth/open/connect/token, so an existing Signicat client runs unchanged
// but for the base URL and its credentials. Every /sign/ route accepts an
// access token from that endpoint or one of our API keys as its bearer
// credential, and answers errors as Signicat's problem documents
// ({title, status, code, detail, traceId, invalidParams}). It is an adapter
// over the account, document, collection and packaging services.
package signicat

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/packaging"
	"github.com/vellum-sign/vellum/internal/seal"
)

// BasePath is where the Sign API v2 is served (Signicat's base URL is
// https://api.signicat.com/sign/).
const BasePath = "/sign"

// TokenPath is Signicat's OAuth 2.0 token endpoint.
const TokenPath = "/auth/open/connect/token"

// Deps are what the surface is built from.
type Deps struct {
	Accounts  *account.Service
	Documents *document.Service
	// Collections serves /sign/document-collections (nil: not served);
	// Packages lists their built packages in output.
	Collections *collection.Service
	Packages    *packaging.Service
	// Merchant seals documents for /sign/merchant-sign (nil: not served).
	Merchant *seal.Documents
	// MaxRequestBytes caps a request body (default 51 MiB).
	MaxRequestBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Routes mounts the surface on the application router: the token endpoint
// and the authenticated /sign/ group. More registers further route sets on
// the group (each gets the group and the surface's dependencies).
func Routes(d Deps, more ...func(g *echo.Group)) func(e *echo.Echo, _ *echo.Group) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxRequestBytes <= 0 {
		d.MaxRequestBytes = 51 << 20
	}
	return func(e *echo.Echo, _ *echo.Group) {
		t := &tokenHandler{accounts: d.Accounts}
		e.POST(TokenPath, t.token)
		g := e.Group(BasePath, Authenticate(d.Accounts), httpapi.CapBody(d.MaxRequestBytes))
		g.RouteNotFound("", httpapi.MethodNotAllowedOrNotFound(e))
		g.RouteNotFound("/*", httpapi.MethodNotAllowedOrNotFound(e))
		if d.Documents != nil {
			(&documentHandlers{docs: d.Documents}).routes(g)
		}
		if d.Collections != nil {
			(&collectionHandlers{collections: d.Collections, packages: d.Packages}).routes(g)
		}
		if d.Merchant != nil {
			(&merchantHandlers{docs: d.Documents, sealer: d.Merchant}).routes(g)
		}
		for _, m := range more {
			m(g)
		}
	}
}

// Caller is who a /sign/ request acts for: an OAuth client (by access
// token) or an API key, in one account and environment.
type Caller struct {
	Scope account.Scope
	// ID is the OAuth client's or the API key's id: the rate-limit bucket
	// and what logs name.
	ID string
	// Client is set for an access token, Key for an API key.
	Client *account.OAuthClient
	Key    *account.Key
}

type callerKey struct{}

// CallerOf returns the authenticated caller of a /sign/ request.
func CallerOf(c echo.Context) Caller {
	k, _ := c.Request().Context().Value(callerKey{}).(Caller)
	return k
}

// ScopeOf returns the account and environment a /sign/ request acts in.
func ScopeOf(c echo.Context) account.Scope { return CallerOf(c).Scope }

// Authenticate is the /sign/ group's middleware: `Authorization: Bearer`
// with an access token from the token endpoint or an API key (sk_…), read
// from the database on every request so revocation is immediate. Failed
// attempts are charged to the client IP; authenticated ones to the caller.
func Authenticate(accounts *account.Service) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			scheme, cred, found := strings.Cut(c.Request().Header.Get("Authorization"), " ")
			cred = strings.TrimSpace(cred)
			if !found || !strings.EqualFold(scheme, "Bearer") || cred == "" {
				if err := httpapi.LimitFailedAuth(c); err != nil {
					return err
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum"`)
				return httpapi.NewProblem(http.StatusUnauthorized, "unauthorized",
					"missing bearer credential: send Authorization: Bearer with an access token from "+TokenPath+" or an API key")
			}
			var who Caller
			var err error
			if account.IsAccessToken(cred) {
				var cl *account.OAuthClient
				if cl, err = accounts.AuthenticateToken(ctx, cred); err == nil {
					who = Caller{Scope: cl.Scope(), ID: cl.ID, Client: cl}
				}
			} else {
				var k *account.Key
				if k, err = accounts.Authenticate(ctx, cred); err == nil {
					who = Caller{Scope: k.Scope(), ID: k.ID, Key: k}
				}
			}
			if errors.Is(err, account.ErrInvalidToken) || errors.Is(err, account.ErrInvalidKey) {
				if err := httpapi.LimitFailedAuth(c); err != nil {
					return err
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="vellum", error="invalid_token"`)
				return httpapi.NewProblem(http.StatusUnauthorized, "invalid_token",
					"the access token is invalid, expired or revoked (or the API key is)")
			}
			if err != nil {
				return err
			}
			if err := httpapi.LimitCaller(c, who.ID); err != nil {
				return err
			}
			httpapi.Logger(ctx).Debug("signicat caller", "account_id", who.Scope.AccountID, "caller_id", who.ID)
			c.SetRequest(c.Request().WithContext(context.WithValue(ctx, callerKey{}, who)))
			return next(c)
		}
	}
}
