// Package pinpage serves RemSig's PIN page at /pin/<hash>: the person sees
// what a signing batch will sign (names, sizes, SHA-256, a preview of each
// PDF) and with which certificate, in the language the browser asks for,
// and authorises it by typing the certificate's password. The page is
// server-rendered (html/template, embedded assets, no script, no
// third-party origins) under the same security headers as the signing
// page; the form carries an anti-forgery token bound to a cookie, and
// cross-site posts are refused.
package pinpage

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/webpage"
)

// contentSecurityPolicy admits this origin's stylesheet and nothing else:
// the page has no script; forms post only here; nothing may frame it.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// csrfCookie carries the anti-forgery token the form must echo.
const csrfCookie = "vellum_pin_csrf"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var static embed.FS

// Handler serves the PIN page.
type Handler struct {
	batches *batch.Service
	persons *person.Service
	tmpl    *template.Template
	assets  *webpage.Assets
	log     *slog.Logger
}

// New returns the PIN page handler.
func New(batches *batch.Service, persons *person.Service, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.Default()
	}
	assets, err := webpage.LoadAssets(static, "assets", "/pin/assets/", nil)
	if err != nil {
		return nil, err
	}
	tmpl, err := assets.Templates(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{batches: batches, persons: persons, tmpl: tmpl, assets: assets, log: log}, nil
}

// Routes mounts the page on the application router.
func Routes(batches *batch.Service, persons *person.Service, log *slog.Logger) func(e *echo.Echo, _ *echo.Group) {
	return func(e *echo.Echo, _ *echo.Group) {
		h, err := New(batches, persons, log)
		if err != nil {
			// The templates and assets are embedded: this is a build defect.
			panic(err)
		}
		e.GET("/pin/assets/:name", func(c echo.Context) error {
			h.assets.Serve(c.Response(), c.Request(), c.Param("name"))
			return nil
		})
		e.GET(ResetPath, h.showReset)
		e.POST(ResetPath, h.submitReset)
		e.GET("/pin/:hash", h.show)
		e.POST("/pin/:hash", h.submit)
		e.GET("/pin/:hash/preview/:seq", h.preview)
	}
}

type message struct{ Heading, Body, Class string }

type taskView struct {
	Label, Kind, SHA256, Preview string
	// Size is the localised size ("48 KB", "48 kB").
	Size string
	// Later: the document is fetched from its source when signed
	// (data.http.prefetch false), so it has no size or hash yet.
	Later bool
}

type certView struct{ Subject, Issuer, NotAfter string }

type pageData struct {
	// L speaks the language negotiated from Accept-Language.
	L           i18n.Localizer
	Title       string
	Message     *message
	Batch       bool
	Tasks       []taskView
	Certificate certView
	Form        bool
	Action      string
	CSRF        string
	Error       string
}

// MinLength is the shortest certificate password the reset form takes.
func (pageData) MinLength() int { return person.MinPINLen }

// localizer speaks the language the browser asks for: a batch carries no
// language of its own.
func localizer(c echo.Context) i18n.Localizer {
	return i18n.For(i18n.Negotiate(c.Request().Header.Get("Accept-Language")))
}

// msg is a page message from the catalogue: title, heading and body ids.
func msg(l i18n.Localizer, title, heading, body, class string) pageData {
	return pageData{L: l, Title: l.T(title), Message: &message{Heading: l.T(heading), Body: l.T(body), Class: class}}
}

func (h *Handler) render(c echo.Context, status int, d pageData) error {
	return h.renderPage(c, status, "pin.html", d)
}

// renderPage writes template name with d in d's language.
func (h *Handler) renderPage(c echo.Context, status int, name string, d pageData) error {
	w := c.Response()
	w.Header().Set("Content-Language", d.L.Tag())
	webpage.SetHeaders(w.Header(), contentSecurityPolicy)
	w.Header().Set(echo.HeaderContentType, "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.tmpl.ExecuteTemplate(w, name, d); err != nil {
		h.log.Error("render PIN page", "template", name, "err", err)
	}
	return nil
}

func notFound(l i18n.Localizer) pageData {
	return msg(l, "pin.notfound.title", "pin.notfound.heading", "pin.notfound.body", "error")
}

// view builds the page for batch hash; form says whether it takes the PIN.
func (h *Handler) view(c echo.Context, hash string) (pageData, *batch.Batch, error) {
	b, ts, cert, err := h.batches.Lookup(c.Request().Context(), hash)
	if err != nil {
		return pageData{}, nil, err
	}
	l := localizer(c)
	d := pageData{L: l, Title: l.T("pin.title"), Batch: true, Action: "/pin/" + hash,
		Certificate: certView{Subject: cert.Subject, Issuer: cert.Issuer, NotAfter: l.DateTime(cert.NotAfter)}}
	for _, t := range ts {
		v := taskView{Label: t.Name, Kind: string(t.Kind), SHA256: t.InputSHA256, Size: l.Size(t.InputSize)}
		if t.DisplayName != "" {
			v.Label = t.DisplayName
		}
		switch {
		case t.InputKey == "":
			v.Later = true
		case t.Kind == batch.KindPDF:
			v.Preview = "/pin/" + hash + "/preview/" + strconv.Itoa(t.Seq)
		}
		d.Tasks = append(d.Tasks, v)
	}
	switch {
	case b.Authorizable():
		d.Form = true
	case b.TasksCount == 0:
		d.Message = &message{Heading: l.T("pin.empty.heading"), Body: l.T("pin.empty.body")}
	default:
		d.Message = &message{Heading: l.T("pin.done.heading"), Body: l.T(stateText(b.State)), Class: "ok"}
	}
	return d, b, nil
}

// stateText is the message id saying where an authorised batch is.
func stateText(s batch.State) string {
	switch s {
	case batch.StateProcessing:
		return "pin.done.processing"
	case batch.StateFinished:
		return "pin.done.finished"
	case batch.StatePartiallyFinished:
		return "pin.done.partial"
	}
	return "pin.done.unknown"
}

func (h *Handler) show(c echo.Context) error {
	d, _, err := h.view(c, c.Param("hash"))
	if errors.Is(err, batch.ErrNotFound) {
		return h.render(c, http.StatusNotFound, notFound(localizer(c)))
	}
	if err != nil {
		return err
	}
	if d.Form {
		if d.CSRF, err = h.issueToken(c); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, d)
}

// issueToken sets a fresh anti-forgery token in a strict same-site cookie
// scoped to the page and returns it for the form.
func (h *Handler) issueToken(c echo.Context) (string, error) {
	return h.issueTokenAt(c, "/pin/"+c.Param("hash"))
}

// issueTokenAt is issueToken for the page at path.
func (h *Handler) issueTokenAt(c echo.Context, path string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: tok, Path: path, HttpOnly: true,
		Secure: c.Request().TLS != nil || c.Scheme() == "https", SameSite: http.SameSiteStrictMode})
	return tok, nil
}

// sameOrigin refuses what a browser says came from another site.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	return true
}

const maxForm = 16 << 10

func (h *Handler) submit(c echo.Context) error {
	hash := c.Param("hash")
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	d, b, err := h.view(c, hash)
	if errors.Is(err, batch.ErrNotFound) {
		return h.render(c, http.StatusNotFound, notFound(localizer(c)))
	}
	if err != nil {
		return err
	}
	l := d.L
	ck, cerr := r.Cookie(csrfCookie)
	if !sameOrigin(r) || cerr != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.FormValue("csrf_token"))) != 1 || ck.Value == "" {
		d.Form = false
		d.Message = &message{Heading: l.T("pin.refused.heading"), Body: l.T("pin.refused.body"), Class: "error"}
		return h.render(c, http.StatusForbidden, d)
	}
	if r.FormValue("action") == "cancel" {
		if b.RedirectCancel != "" {
			return c.Redirect(http.StatusSeeOther, b.RedirectCancel)
		}
		return h.render(c, http.StatusOK, msg(l, "pin.cancelled", "pin.cancelled", "pin.cancelled.body", ""))
	}
	if !d.Form {
		return h.render(c, http.StatusConflict, d)
	}
	_, err = h.batches.Authorize(r.Context(), hash, r.FormValue("password"))
	var wrong *person.WrongPINError
	switch {
	case err == nil:
		if b.RedirectSuccess != "" {
			return c.Redirect(http.StatusSeeOther, b.RedirectSuccess)
		}
		return h.render(c, http.StatusOK, msg(l, "pin.authorised", "pin.authorised", "pin.authorised.body", "ok"))
	case errors.As(err, &wrong):
		d.Error = l.N("pin.wrong", wrong.Remaining)
		if d.CSRF, err = h.issueToken(c); err != nil {
			return err
		}
		return h.render(c, http.StatusUnprocessableEntity, d)
	default:
		h.log.Info("PIN entry failed", "batch", hash, "err", err)
		if b.RedirectError != "" {
			return c.Redirect(http.StatusSeeOther, b.RedirectError)
		}
		d.Form = false
		d.Message = &message{Heading: l.T("pin.fail.heading"), Body: l.T(failureText(err)), Class: "error"}
		return h.render(c, http.StatusUnprocessableEntity, d)
	}
}

// failureText is the message id of why authorising failed: the errors'
// own texts are English and for logs.
func failureText(err error) string {
	switch {
	case errors.Is(err, person.ErrLocked):
		return "pin.fail.locked"
	case errors.Is(err, person.ErrCertificateUnusable):
		return "pin.fail.unusable"
	case errors.Is(err, batch.ErrNotAuthorizable), errors.Is(err, batch.ErrEmpty):
		return "pin.fail.notnow"
	}
	return "pin.fail.generic"
}

// preview serves a PDF task's document inline.
func (h *Handler) preview(c echo.Context) error {
	ctx := c.Request().Context()
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil {
		return h.render(c, http.StatusNotFound, notFound(localizer(c)))
	}
	rc, err := h.batches.OpenInput(ctx, c.Param("hash"), seq)
	if err != nil {
		return h.render(c, http.StatusNotFound, notFound(localizer(c)))
	}
	defer rc.Close()
	w := c.Response()
	webpage.SetHeaders(w.Header(), "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set(echo.HeaderContentType, "application/pdf")
	w.Header().Set(echo.HeaderContentDisposition, "inline")
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
	return nil
}
