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

	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/webpage"
)

// Handler serves the signing page and its assets.
type Handler struct {
	api    http.Handler
	tmpl   *template.Template
	assets *webpage.Assets
	log    *slog.Logger
	mux    *http.ServeMux
	embed  LinkFunc
}

// New returns the page handler. api serves the signer JSON API (in the
// application, the whole router); the page calls it in-process to render.
// embed looks up who may frame a token's page; nil means no one.
func New(api http.Handler, log *slog.Logger, embed LinkFunc) (*Handler, error) {
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
	h := &Handler{api: api, tmpl: tmpl, assets: assets, log: log, mux: http.NewServeMux(), embed: embed}
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
func Routes(log *slog.Logger, embed LinkFunc) func(e *echo.Echo, _ *echo.Group) {
	return func(e *echo.Echo, _ *echo.Group) {
		h, err := New(e, log, embed)
		if err != nil {
			// The templates and assets are embedded: this is a build defect.
			panic(err)
		}
		e.GET("/s/*", echo.WrapHandler(h))
	}
}

// setPageHeaders applies the page's security headers. The token is in the
// URL, so no referrer may leak it to a document link or redirect target,
// and nothing may cache a page that is the signer's capability. When the
// account allows framing, X-Frame-Options goes: it cannot name several
// origins, and a DENY beside frame-ancestors would contradict it (browsers
// that know frame-ancestors ignore it; older ones would refuse the frame).
func setPageHeaders(h http.Header, origins []string) {
	webpage.SetHeaders(h, contentSecurityPolicy(origins))
	if len(origins) > 0 {
		h.Del("X-Frame-Options")
	}
}

// link looks up the token's link; failures leave the page unframeable
// (fail closed) and in the browser's language.
func (h *Handler) link(r *http.Request, token string) Link {
	if h.embed == nil || !plausibleToken(token) {
		return Link{}
	}
	e, err := h.embed(r.Context(), token)
	if err != nil {
		h.log.WarnContext(r.Context(), "signing page: look up the link; the page is not frameable", "err", err)
		return Link{}
	}
	return e
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	link := h.link(r, token)
	// The recipient's locale wins over the envelope's language, which wins
	// over the browser's.
	l := i18n.For(i18n.Negotiate(r.Header.Get("Accept-Language"), link.Locale, link.Language))
	var data *pageData
	status := http.StatusOK
	if !plausibleToken(token) {
		data, status = statePage(l, stateUnknown, nil), http.StatusNotFound
	} else {
		v, err := fetchView(r.Context(), h.api, r, token)
		var p *problem
		switch {
		case errors.As(err, &p):
			data, status = problemPage(l, p)
			if status >= 500 {
				h.log.ErrorContext(r.Context(), "signer API failed rendering the signing page", "status", p.Status, "code", p.Code)
			}
		case err != nil:
			h.log.ErrorContext(r.Context(), "signing page: load signer view", "err", err)
			data, status = statePage(l, stateUnavailable, nil), http.StatusServiceUnavailable
		default:
			data = viewPage(l, v, token, r.URL.Query().Get("login") == "failed")
		}
	}
	data.Embed = embedData{Origins: strings.Join(link.Origins, " "), Origin: embedOrigin(link.Origins, r.URL.Query().Get("origin")),
		EnvelopeID: link.EnvelopeID, RecipientID: link.RecipientID}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, "page.html", data); err != nil {
		h.log.ErrorContext(r.Context(), "signing page: render", "err", err)
		setPageHeaders(w.Header(), nil)
		http.Error(w, l.T("state.unavailable.body"), http.StatusInternalServerError)
		return
	}
	setPageHeaders(w.Header(), link.Origins)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l.Tag())
	w.Header().Add("Vary", "Accept-Language")
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
