package httpapi

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/envelope"
)

// SignerRoutes serves the signer JSON API under /api/v1/signer/{token}.
// The token in the path is the credential: these routes take no API key and
// sit outside the authenticated group, under the per-IP rate limit.
func SignerRoutes(envelopes *envelope.Service) func(e *echo.Echo, api *echo.Group) {
	h := &signerHandlers{svc: envelopes}
	return func(e *echo.Echo, _ *echo.Group) {
		g := e.Group("/api/v1/signer/:token", noStore, h.knownToken)
		g.GET("", h.view)
		g.GET("/documents/:documentId", h.document)
		g.POST("/otp", h.otp)
		g.POST("/sign", h.sign)
		g.POST("/decline", h.decline)
		g.GET("/oidc", h.startLogin)
		e.GET(OIDCCallbackPath, h.finishLogin, noStore)
	}
}

// OIDCCallbackPath is where every identity provider sends the signer back:
// the operator registers VELLUM_PUBLIC_URL + OIDCCallbackPath as the
// redirect URI of Vellum's client at each provider.
const OIDCCallbackPath = "/api/v1/signer/oidc/callback"

// oidcCookie holds the browser binding of an identity-provider login. It
// is sent only to the signer API (the callback and …/sign), never readable
// by script; SameSite=Lax lets the provider's top-level redirect back
// carry it. One browser runs one such login at a time.
const oidcCookie = "vellum_oidc"

// startLogin sends an OIDC recipient's browser to their identity provider.
func (h *signerHandlers) startLogin(c echo.Context) error {
	authURL, binding, err := h.svc.StartLogin(c.Request().Context(), c.Param("token"), signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	c.SetCookie(&http.Cookie{Name: oidcCookie, Value: binding, Path: "/api/v1/signer/", HttpOnly: true,
		Secure: strings.HasPrefix(h.svc.PublicURL, "https:"), SameSite: http.SameSiteLaxMode,
		MaxAge: int((envelope.OIDCLoginLifetime + envelope.OIDCIdentityLifetime).Seconds())})
	return c.Redirect(http.StatusFound, authURL)
}

// finishLogin is the identity providers' redirect URI: it completes the
// login and sends the browser back to the signing page, which shows the
// verified identity or, after ?login=failed, that the login did not count.
func (h *signerHandlers) finishLogin(c echo.Context) error {
	q := c.QueryParams()
	providerErr := strings.TrimSpace(q.Get("error") + " " + q.Get("error_description"))
	var binding string
	if ck, err := c.Cookie(oidcCookie); err == nil {
		binding = ck.Value
	}
	res, err := h.svc.FinishLogin(c.Request().Context(), q.Get("state"), q.Get("code"), providerErr, binding, signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	to := res.SignURL
	if res.Err != nil {
		to += "?login=failed"
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// noStore keeps signer responses (which carry personal data behind a
// bearer-like URL) out of shared caches and referrers.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

type signerHandlers struct{ svc *envelope.Service }

// knownToken refuses an unknown token before the handler reads the body,
// so an unauthenticated client cannot hold a connection by trickling one;
// the connection is closed rather than drained.
func (h *signerHandlers) knownToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := h.svc.KnownToken(c.Request().Context(), c.Param("token")); err != nil {
			if c.Request().ContentLength != 0 {
				c.Response().Header().Set(echo.HeaderConnection, "close")
			}
			return envelopeError(c, err)
		}
		return next(c)
	}
}

func signerActor(c echo.Context) envelope.Actor {
	return envelope.Actor{IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

func (h *signerHandlers) view(c echo.Context) error {
	v, err := h.svc.Open(c.Request().Context(), c.Param("token"), signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

func (h *signerHandlers) document(c echo.Context) error {
	d, rc, err := h.svc.OpenDocument(c.Request().Context(), c.Param("token"), c.Param("documentId"))
	if err != nil {
		return envelopeError(c, err)
	}
	defer rc.Close()
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, "application/pdf")
	hd.Set(echo.HeaderContentLength, strconv.FormatInt(d.CurrentSize, 10))
	disposition := "inline"
	if c.QueryParam("download") == "true" {
		disposition = "attachment"
	}
	hd.Set(echo.HeaderContentDisposition, mime.FormatMediaType(disposition, map[string]string{"filename": d.Filename}))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), rc); err != nil {
		Logger(c.Request().Context()).Warn("signer document download interrupted", "document_id", d.DocumentID, "err", err)
	}
	return nil
}

func (h *signerHandlers) otp(c echo.Context) error {
	v, err := h.svc.RequestOTP(c.Request().Context(), c.Param("token"), signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

// signRequest is the body of POST …/sign.
type signRequest struct {
	Consent    *bool             `json:"consent"`
	Signature  *signatureRequest `json:"signature"`
	OTP        string            `json:"otp"`
	AccessCode string            `json:"accessCode"`
	Values     map[string]any    `json:"values"`
}

type signatureRequest struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Image string `json:"image"`
}

const pngDataURLPrefix = "data:image/png;base64,"

func (h *signerHandlers) sign(c echo.Context) error {
	var req signRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	in := envelope.SignInput{OTP: strings.TrimSpace(req.OTP), AccessCode: req.AccessCode, Values: map[string]string{}}
	if ck, err := c.Cookie(oidcCookie); err == nil {
		in.OIDCBinding = ck.Value
	}
	if req.Consent != nil {
		in.Consent = *req.Consent
	}
	if s := req.Signature; s != nil {
		in.SignatureType, in.Text = s.Type, s.Text
		if s.Type == "drawn" {
			data, ok := strings.CutPrefix(s.Image, pngDataURLPrefix)
			img, err := base64.StdEncoding.DecodeString(data)
			if !ok || err != nil {
				bad = append(bad, InvalidParam{Name: "signature.image", Reason: "must be a data URL data:image/png;base64,…"})
			}
			in.Image = img
		}
	}
	for id, v := range req.Values {
		switch x := v.(type) {
		case string:
			in.Values[id] = x
		case bool:
			in.Values[id] = strconv.FormatBool(x)
		default:
			bad = append(bad, InvalidParam{Name: "values." + id, Reason: fmt.Sprintf("must be a string or a boolean, not %T", v)})
		}
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	v, err := h.svc.Sign(c.Request().Context(), c.Param("token"), in, signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

type declineRequest struct {
	Reason string `json:"reason"`
}

func (h *signerHandlers) decline(c echo.Context) error {
	var req declineRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	v, err := h.svc.Decline(c.Request().Context(), c.Param("token"), req.Reason, signerActor(c))
	if err != nil {
		return envelopeError(c, err)
	}
	return c.JSON(http.StatusOK, v)
}
