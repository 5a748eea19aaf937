// Package signerpage serves the signer's HTML signing page at /s/{token}:
// a server-rendered page (html/template, embedded assets, no third-party
// origins) that shows the envelope, lets the signer read each document,
// consent, sign (typed or drawn) or decline, with an e-mail OTP or access
// code step when the recipient requires one.
//
// The page renders from the public signer JSON API (/api/v1/signer/…) and
// its script acts through the same API, so the page is exactly as capable
// as an embedded integration and the OpenAPI document is its only contract
// with the envelope workflow.
package signerpage

import (
	"bytes"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/webpage"
)

// contentSecurityPolicy admits only this origin's script, style, frames
// (the document previews) and API calls; data: and blob: images are the
// drawn-signature preview. No inline script or style is needed anywhere,
// so none is allowed, and the page cannot be framed (clickjacking).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; " +
	"img-src 'self' data: blob:; connect-src 'self'; frame-src 'self'; object-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the signing page and its assets.
type Handler struct {
	api    http.Handler
	tmpl   *template.Template
	assets *webpage.Assets
	log    *slog.Logger
	mux    *http.ServeMux
}

// New returns the page handler. api serves the signer JSON API (in the
// application, the whole router); the page calls it in-process to render.
func New(api http.Handler, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	assets, err := webpage.LoadAssets(static, "assets", "/s/assets/", fonts)
	if err != nil {
		return nil, err
	}
	tmpl, err := parseTemplates(assets)
	if err != nil {
		return nil, err
	}
	h := &Handler{api: api, tmpl: tmpl, assets: assets, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /s/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.assets.Serve(w, r, r.PathValue("name"))
	})
	h.mux.HandleFunc("GET /s/{token}", h.page)
	return h, nil
}

// ServeHTTP routes /s/{token} and /s/assets/{name}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Routes mounts the page on the application router. The page's in-process
// API calls go through the same router, so they meet the same middleware
// (request ids, logs, per-IP limits) as the script's calls.
func Routes(log *slog.Logger) func(e *echo.Echo, _ *echo.Group) {
	return func(e *echo.Echo, _ *echo.Group) {
		h, err := New(e, log)
		if err != nil {
			// The templates and assets are embedded: this is a build defect.
			panic(err)
		}
		e.GET("/s/*", echo.WrapHandler(h))
	}
}

// setPageHeaders applies the page's security headers. The token is in the
// URL, so no referrer may leak it to a document link or redirect target,
// and nothing may cache a page that is the signer's capability.
func setPageHeaders(h http.Header) { webpage.SetHeaders(h, contentSecurityPolicy) }

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	var data *pageData
	status := http.StatusOK
	if !plausibleToken(token) {
		data, status = statePage(stateUnknown, nil), http.StatusNotFound
	} else {
		v, err := fetchView(r.Context(), h.api, r, token)
		var p *problem
		switch {
		case errors.As(err, &p):
			data, status = problemPage(p)
			if status >= 500 {
				h.log.ErrorContext(r.Context(), "signer API failed rendering the signing page", "status", p.Status, "code", p.Code)
			}
		case err != nil:
			h.log.ErrorContext(r.Context(), "signing page: load signer view", "err", err)
			data, status = statePage(stateUnavailable, nil), http.StatusServiceUnavailable
		default:
			data = viewPage(v, token)
		}
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, "page.html", data); err != nil {
		h.log.ErrorContext(r.Context(), "signing page: render", "err", err)
		setPageHeaders(w.Header())
		http.Error(w, "The signing page could not be shown. Please try again later.", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// plausibleToken rejects what cannot be a signing token (base64url, well
// under a kilobyte) before it reaches the API or a log line.
func plausibleToken(t string) bool {
	if len(t) < 16 || len(t) > 512 {
		return false
	}
	return strings.IndexFunc(t, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == '~')
	}) < 0
}
