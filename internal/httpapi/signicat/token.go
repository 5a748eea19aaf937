package signicat

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/httpapi"
)

// DefaultScope is what a token is issued for when the request names none:
// the scope Signicat's API clients ask for.
const DefaultScope = "signicat-api"

// knownScopes are the scopes a client may ask for; each grants the whole
// Sign API v2 of the client's account and environment.
var knownScopes = []string{DefaultScope}

// maxTokenForm bounds the token request body.
const maxTokenForm = 8 << 10

type tokenHandler struct {
	accounts *account.Service
}

// tokenResponse is RFC 6749 §5.1's successful response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// tokenError is RFC 6749 §5.2's error response.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (h *tokenHandler) fail(c echo.Context, status int, code, description string) error {
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="vellum"`)
	}
	noStore(c)
	return c.JSON(status, tokenError{Error: code, Description: description})
}

func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Pragma", "no-cache")
}

// token is the client credentials grant (RFC 6749 §4.4). The client
// authenticates with HTTP Basic (client_id and client_secret form-encoded,
// §2.3.1) or with both in the form body, never both ways at once.
func (h *tokenHandler) token(c echo.Context) error {
	r := c.Request()
	mt, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if mt != "application/x-www-form-urlencoded" {
		return h.fail(c, http.StatusBadRequest, "invalid_request",
			"send the token request as application/x-www-form-urlencoded")
	}
	body, err := readLimited(r, maxTokenForm)
	if err != nil {
		return h.fail(c, http.StatusBadRequest, "invalid_request", err.Error())
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return h.fail(c, http.StatusBadRequest, "invalid_request", "malformed form body: "+err.Error())
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return h.fail(c, http.StatusBadRequest, "invalid_request", "parameter "+name+" is given more than once")
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return h.fail(c, http.StatusBadRequest, "invalid_request", "grant_type is required: client_credentials")
	case "client_credentials":
	default:
		return h.fail(c, http.StatusBadRequest, "unsupported_grant_type",
			"grant_type "+gt+" is not supported; use client_credentials")
	}

	id, secret := form.Get("client_id"), form.Get("client_secret")
	if bu, bp, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return h.fail(c, http.StatusBadRequest, "invalid_request",
				"authenticate the client with HTTP Basic or with client_secret in the body, not both")
		}
		// §2.3.1: both parts are form-encoded before Basic encoding.
		uid, e1 := url.QueryUnescape(bu)
		upw, e2 := url.QueryUnescape(bp)
		if e1 != nil || e2 != nil {
			return h.fail(c, http.StatusUnauthorized, "invalid_client", "malformed HTTP Basic client credentials")
		}
		if form.Has("client_id") && form.Get("client_id") != uid {
			return h.fail(c, http.StatusBadRequest, "invalid_request", "client_id in the body differs from the HTTP Basic user")
		}
		id, secret = uid, upw
	} else if id == "" || secret == "" {
		if err := httpapi.LimitFailedAuth(c); err != nil {
			return err
		}
		return h.fail(c, http.StatusUnauthorized, "invalid_client",
			"client authentication required: HTTP Basic, or client_id and client_secret in the body")
	}

	scope := DefaultScope
	if s := strings.TrimSpace(form.Get("scope")); s != "" {
		for _, want := range strings.Fields(s) {
			if !slices.Contains(knownScopes, want) {
				return h.fail(c, http.StatusBadRequest, "invalid_scope",
					"unknown scope "+want+"; known: "+strings.Join(knownScopes, " "))
			}
		}
		scope = strings.Join(strings.Fields(s), " ")
	}

	cl, err := h.accounts.AuthenticateClient(r.Context(), id, secret)
	if errors.Is(err, account.ErrInvalidClient) {
		if err := httpapi.LimitFailedAuth(c); err != nil {
			return err
		}
		return h.fail(c, http.StatusUnauthorized, "invalid_client", "unknown client, wrong secret or revoked client")
	}
	if err != nil {
		return err
	}
	tok, rec, err := h.accounts.IssueToken(r.Context(), cl, scope)
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int(rec.ExpiresAt.Sub(rec.CreatedAt).Seconds()), Scope: scope})
}

// readLimited reads at most limit bytes of the request body.
func readLimited(r *http.Request, limit int64) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", errors.New("the token request body is too large")
		}
		return "", errors.New("could not read the request body")
	}
	return string(b), nil
}
