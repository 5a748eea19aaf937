// Package portalpage serves the certificate portal's pages for people at
// /portal: log in, see my certificates and one in detail, make one primary,
// link one by proving possession of its key. Pages are server-rendered
// (html/template, embedded assets, no third-party origins) from the Signex
// API, called in process with the visitor's cookies; the page's script acts
// through the same API with the anti-forgery token, so the page can do
// nothing an API client cannot.
package portalpage

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/webpage"
)

// contentSecurityPolicy admits only this origin's script, style and API
// calls; nothing may frame the portal (clickjacking a "make primary").
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// maxAPIBytes bounds what the page buffers from the API: a person with a
// thousand certificates is a few hundred kilobytes.
const maxAPIBytes = 4 << 20

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var static embed.FS

// Handler serves the portal's pages and assets.
type Handler struct {
	api    http.Handler
	tmpl   *template.Template
	assets *webpage.Assets
	log    *slog.Logger
	mux    *http.ServeMux
}

// New returns the portal handler; api serves the Signex API in process (in
// the application, the whole router).
func New(api http.Handler, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	assets, err := webpage.LoadAssets(static, "assets", "/portal/assets/", nil)
	if err != nil {
		return nil, err
	}
	tmpl, err := assets.Templates(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	h := &Handler{api: api, tmpl: tmpl, assets: assets, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /portal/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.assets.Serve(w, r, r.PathValue("name"))
	})
	h.mux.HandleFunc("GET /portal", h.home)
	h.mux.HandleFunc("GET /portal/certificates/{id}", h.certificate)
	return h, nil
}

// ServeHTTP routes the portal's paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Routes mounts the portal on the application router; its in-process API
// calls go through the same router and middleware as the script's.
func Routes(log *slog.Logger) func(e *echo.Echo, _ *echo.Group) {
	return func(e *echo.Echo, _ *echo.Group) {
		h, err := New(e, log)
		if err != nil {
			// The templates and assets are embedded: this is a build defect.
			panic(err)
		}
		e.GET("/portal", echo.WrapHandler(h))
		e.GET("/portal/*", echo.WrapHandler(h))
	}
}

// pageData is what portal.html renders: one of the login form, my
// certificates, one certificate, or a message.
type pageData struct {
	Title   string
	Login   bool
	Next    string // where the login returns to
	List    *certList
	Detail  *certDetail
	Message *message
}

type message struct{ Heading, Body string }

type validity struct {
	NotBeforeUTC string `json:"notBeforeUtc"`
	NotAfterUTC  string `json:"notAfterUtc"`
}

// certSummary mirrors the API's CertSummary.
type certSummary struct {
	ID         string   `json:"id"`
	IIN        *string  `json:"iin"`
	FullName   string   `json:"fullName"`
	Thumbprint string   `json:"thumbprint"`
	Algorithm  string   `json:"algorithm"`
	IsPrimary  bool     `json:"isPrimary"`
	Validity   validity `json:"validity"`
	Status     string   `json:"status"`
	Template   string   `json:"template"`
	LinkedAt   string   `json:"linkedAt"`
}

type certList struct {
	Items []certSummary `json:"items"`
	Total int           `json:"total"`
}

type attribute struct {
	OID, Name, Value string
}

type extension struct {
	OID      string          `json:"oid"`
	Name     string          `json:"name"`
	Critical bool            `json:"critical"`
	Value    json.RawMessage `json:"value"`
}

// certDetail mirrors the API's CertDetail.
type certDetail struct {
	certSummary
	SerialNumber       string      `json:"serialNumber"`
	Subject            string      `json:"subject"`
	SubjectAttributes  []attribute `json:"subjectAttributes"`
	Issuer             string      `json:"issuer"`
	SignatureAlgorithm string      `json:"signatureAlgorithm"`
	PublicKey          struct {
		Algorithm string `json:"algorithm"`
		Size      int    `json:"size"`
	} `json:"publicKey"`
	ThumbprintSHA256 string      `json:"thumbprintSha256"`
	Type             string      `json:"type"`
	Origin           string      `json:"origin"`
	Extensions       []extension `json:"extensions"`
	PEM              string      `json:"pem"`
}

// ExtensionText is an extension's decoded value as the page prints it.
func (e extension) ExtensionText() string {
	var v any
	if err := json.Unmarshal(e.Value, &v); err != nil {
		return string(e.Value)
	}
	return flatten(v)
}

// flatten prints a decoded extension value as short readable text.
func flatten(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, flatten(x))
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		if n, ok := v["name"].(string); ok && n != "" {
			if oid, ok := v["oid"].(string); ok {
				return n + " (" + oid + ")"
			}
		}
		if t, ok := v["type"].(string); ok {
			if val, ok := v["value"].(string); ok {
				return t + ": " + val
			}
		}
		if m, ok := v["method"].(string); ok {
			return m + ": " + flatten(v["location"])
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if s := flatten(v[k]); s != "" {
				parts = append(parts, k+": "+s)
			}
		}
		return strings.Join(parts, ", ")
	case string:
		return v
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	var list certList
	if h.load(w, r, "/api/cert/mine", "/portal", &list) {
		h.render(w, r, http.StatusOK, &pageData{Title: "My certificates", List: &list})
	}
}

func (h *Handler) certificate(w http.ResponseWriter, r *http.Request) {
	id := url.PathEscape(r.PathValue("id"))
	var d certDetail
	if h.load(w, r, "/api/cert/"+id, "/portal/certificates/"+id, &d) {
		h.render(w, r, http.StatusOK, &pageData{Title: d.FullName, Detail: &d})
	}
}

// load reads apiPath into out for the visitor and reports whether the page
// can be rendered; otherwise it has answered: the login form (returning to
// next) when the visitor is not logged in, else a page saying what failed.
func (h *Handler) load(w http.ResponseWriter, r *http.Request, apiPath, next string, out any) bool {
	resp, err := webpage.Fetch(r.Context(), h.api, r, apiPath, maxAPIBytes)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	copyCookies(w, resp)
	switch resp.Status {
	case http.StatusOK:
		if err := json.Unmarshal(resp.Body, out); err != nil {
			h.fail(w, r, err)
			return false
		}
		return true
	case http.StatusUnauthorized:
		h.render(w, r, http.StatusOK, &pageData{Title: "Log in", Login: true, Next: next})
	default:
		h.apiFailed(w, r, resp.Status)
	}
	return false
}

// copyCookies passes on what the API set: an ended session's cookies are
// cleared in the browser too.
func copyCookies(w http.ResponseWriter, resp *webpage.Response) {
	for _, c := range resp.Header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
}

func (h *Handler) apiFailed(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusNotFound:
		h.render(w, r, http.StatusNotFound, &pageData{Title: "Not found", Message: &message{"Certificate not found",
			"There is no such certificate among yours."}})
	case http.StatusTooManyRequests:
		h.render(w, r, http.StatusTooManyRequests, &pageData{Title: "Too many requests", Message: &message{"Too many requests",
			"This page was opened too often in a short time. Please wait a minute, then reload it."}})
	default:
		h.log.ErrorContext(r.Context(), "certificate portal: API answered", "status", status)
		h.render(w, r, http.StatusServiceUnavailable, &pageData{Title: "Unavailable", Message: &message{"Something went wrong on our side",
			"The page could not be loaded. Please try again in a few minutes."}})
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "certificate portal", "err", err)
	h.apiFailed(w, r, http.StatusInternalServerError)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d *pageData) {
	var buf bytes.Buffer
	webpage.SetHeaders(w.Header(), contentSecurityPolicy)
	if err := h.tmpl.ExecuteTemplate(&buf, "portal.html", d); err != nil {
		h.log.ErrorContext(r.Context(), "certificate portal: render", "err", err)
		http.Error(w, "The page could not be shown. Please try again later.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
