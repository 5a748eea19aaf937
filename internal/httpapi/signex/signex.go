// Package signex serves the Signex certificate portal's API at Signex's own
// paths: a person logs in with e-mail and password (an opaque server-side
// session in the __Host-Signex.Auth cookie, with an anti-forgery token in
// XSRF-TOKEN that every state-changing request must echo in X-XSRF-TOKEN),
// lists their certificates, reads one with every X.509 extension decoded,
// and links a certificate by proving possession of its key. It is an
// adapter over the person and websession services.
package signex

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/websession"
)

// Cookie names, as Signex's documentation gives them.
const (
	AuthCookie = "__Host-Signex.Auth"
	XSRFCookie = "XSRF-TOKEN"
	XSRFHeader = "X-XSRF-TOKEN"
)

// Limits are Signex's published rate limits.
var Limits = struct {
	LoginPerIP, MinePerUser, LinkPerUser, LinkPerIP httpapi.WindowLimit
}{
	LoginPerIP:  httpapi.WindowLimit{N: 10, Window: 5 * time.Minute},
	MinePerUser: httpapi.WindowLimit{N: 60, Window: time.Minute},
	LinkPerUser: httpapi.WindowLimit{N: 10, Window: time.Minute},
	LinkPerIP:   httpapi.WindowLimit{N: 30, Window: time.Hour},
}

// Deps are what the surface is built from.
type Deps struct {
	Persons  *person.Service
	Sessions *websession.Service
	Limiter  *httpapi.RateLimiter
	// Now is the clock for certificate status (default time.Now).
	Now func() time.Time
}

// Routes mounts the surface on the application router.
func Routes(d Deps) func(e *echo.Echo, _ *echo.Group) {
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &handlers{Deps: d}
	return func(e *echo.Echo, _ *echo.Group) {
		e.POST("/api/auth/login", h.login)
		e.POST("/api/auth/logout", h.authed(h.logout, true))
		e.GET("/api/cert/mine", h.authed(h.mine, false))
		e.POST("/api/cert/link/challenge", h.authed(h.challenge, true))
		e.POST("/api/cert/link", h.authed(h.link, true))
		e.GET("/api/cert/:id", h.authed(h.get, false))
		e.POST("/api/cert/:id/primary", h.authed(h.primary, true))
	}
}

type handlers struct{ Deps }

// caller is the logged-in person of a request.
type caller struct {
	session *websession.Session
	token   string
	person  *person.Person
}

type authedHandler func(c echo.Context, who *caller) error

// authed resumes the session of the request's cookie (401 without one)
// and, for state-changing routes, checks the anti-forgery header against
// the session's token (403).
func (h *handlers) authed(next authedHandler, mutating bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		who, err := h.resume(c)
		if err != nil {
			return err
		}
		if mutating {
			if err := h.Sessions.CheckXSRF(who.session, c.Request().Header.Get(XSRFHeader)); err != nil {
				return err
			}
		}
		return next(c, who)
	}
}

func (h *handlers) resume(c echo.Context) (*caller, error) {
	ck, err := c.Cookie(AuthCookie)
	if err != nil {
		return nil, websession.ErrNoSession
	}
	ctx := c.Request().Context()
	sess, err := h.Sessions.Resume(ctx, ck.Value)
	if err != nil {
		if errors.Is(err, websession.ErrNoSession) {
			clearCookies(c)
		}
		return nil, err
	}
	p, err := h.Persons.Lookup(ctx, sess.Subject)
	if errors.Is(err, person.ErrPersonNotFound) {
		// Deleted or disabled since the login: the session dies with it.
		if err := h.Sessions.End(ctx, ck.Value); err != nil {
			return nil, err
		}
		clearCookies(c)
		return nil, websession.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	return &caller{session: sess, token: ck.Value, person: p}, nil
}

// setCookies hands out the session: the session cookie for the browser
// only (HttpOnly; __Host- so it is Secure, host-only and Path=/), and the
// anti-forgery token readable by the page's script.
func setCookies(c echo.Context, token, xsrf string) {
	c.SetCookie(&http.Cookie{Name: AuthCookie, Value: token, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	c.SetCookie(&http.Cookie{Name: XSRFCookie, Value: xsrf, Path: "/", Secure: true, SameSite: http.SameSiteLaxMode})
}

func clearCookies(c echo.Context) {
	for _, name := range []string{AuthCookie, XSRFCookie} {
		c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: name == AuthCookie,
			SameSite: http.SameSiteLaxMode, MaxAge: -1})
	}
}

type loginRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// loginResponse is what a successful login says.
type loginResponse struct {
	Email              string    `json:"email"`
	FullName           string    `json:"fullName"`
	ExpiresAt          time.Time `json:"expiresAt"`
	IdleTimeoutSeconds int       `json:"idleTimeoutSeconds"`
}

func (h *handlers) login(c echo.Context) error {
	if err := h.Limiter.Allow(c, "login", "signex:login:"+c.RealIP(), Limits.LoginPerIP); err != nil {
		return err
	}
	var req loginRequest
	bad, err := httpapi.BindJSON(c, &req)
	if err != nil {
		return err
	}
	if req.Email == nil && !has(bad, "email") {
		bad = append(bad, httpapi.InvalidParam{Name: "email", Reason: "required"})
	}
	if req.Password == nil && !has(bad, "password") {
		bad = append(bad, httpapi.InvalidParam{Name: "password", Reason: "required"})
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	ctx := c.Request().Context()
	p, err := h.Persons.Authenticate(ctx, *req.Email, *req.Password)
	if err != nil {
		return err
	}
	// A new login always gets a new session: one presented with the
	// request (perhaps planted) ends here.
	if ck, err := c.Cookie(AuthCookie); err == nil {
		if err := h.Sessions.End(ctx, ck.Value); err != nil {
			return err
		}
	}
	token, xsrf, sess, err := h.Sessions.Start(ctx, p.ID)
	if err != nil {
		return err
	}
	setCookies(c, token, xsrf)
	return c.JSON(http.StatusOK, loginResponse{Email: p.Email, FullName: p.Name, ExpiresAt: sess.ExpiresAt.UTC(),
		IdleTimeoutSeconds: int(h.Sessions.IdleTimeout().Seconds())})
}

func has(params []httpapi.InvalidParam, name string) bool {
	for _, p := range params {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (h *handlers) logout(c echo.Context, who *caller) error {
	if err := h.Sessions.End(c.Request().Context(), who.token); err != nil {
		return err
	}
	clearCookies(c)
	return c.NoContent(http.StatusNoContent)
}
