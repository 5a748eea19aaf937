package pinpage

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/validation"
)

// ResetPath is where the one-time password reset link points.
const ResetPath = "/pin/reset-password"

// ResetURL is the reset link of token under publicURL.
func ResetURL(publicURL, token string) string {
	return publicURL + ResetPath + "?uuid=" + url.QueryEscape(token)
}

func (h *Handler) renderReset(c echo.Context, status int, d pageData) error {
	return h.renderPage(c, status, "reset.html", d)
}

func resetGone(l i18n.Localizer, err error) pageData {
	if errors.Is(err, person.ErrPINResetExpired) {
		return msg(l, "pin.reset.expired.title", "pin.reset.expired.heading", "pin.reset.expired.body", "error")
	}
	return msg(l, "pin.notfound.title", "pin.reset.gone.heading", "pin.reset.gone.body", "error")
}

func (h *Handler) showReset(c echo.Context) error {
	l := localizer(c)
	token := c.QueryParam("uuid")
	r, cert, err := h.persons.GetPINReset(c.Request().Context(), token)
	if err != nil {
		if errors.Is(err, person.ErrPINResetExpired) && r.RedirectExpired != "" {
			return c.Redirect(http.StatusSeeOther, r.RedirectExpired)
		}
		if errors.Is(err, person.ErrPINResetExpired) || errors.Is(err, person.ErrPINResetUnknown) {
			return h.renderReset(c, http.StatusNotFound, resetGone(l, err))
		}
		return err
	}
	tok, err := h.issueTokenAt(c, ResetPath)
	if err != nil {
		return err
	}
	return h.renderReset(c, http.StatusOK, pageData{L: l, Title: l.T("pin.reset.title"), Form: true, CSRF: tok,
		Action:      ResetPath + "?uuid=" + url.QueryEscape(token),
		Certificate: certView{Subject: cert.Subject, Issuer: cert.Issuer}})
}

func (h *Handler) submitReset(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	l := localizer(c)
	token := c.QueryParam("uuid")
	reset, cert, err := h.persons.GetPINReset(r.Context(), token)
	if err != nil {
		if errors.Is(err, person.ErrPINResetExpired) && reset.RedirectExpired != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectExpired)
		}
		if errors.Is(err, person.ErrPINResetExpired) || errors.Is(err, person.ErrPINResetUnknown) {
			return h.renderReset(c, http.StatusNotFound, resetGone(l, err))
		}
		return err
	}
	ck, cerr := r.Cookie(csrfCookie)
	if !sameOrigin(r) || cerr != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.FormValue("csrf_token"))) != 1 {
		return h.renderReset(c, http.StatusForbidden, msg(l, "pin.refused.title", "pin.refused.heading", "pin.refused.body", "error"))
	}
	if r.FormValue("action") == "cancel" {
		if reset.RedirectCancel != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectCancel)
		}
		return h.renderReset(c, http.StatusOK, msg(l, "pin.cancelled", "pin.cancelled", "pin.reset.cancelled", ""))
	}
	again := func(text string) error {
		tok, err := h.issueTokenAt(c, ResetPath)
		if err != nil {
			return err
		}
		return h.renderReset(c, http.StatusUnprocessableEntity, pageData{L: l, Title: l.T("pin.reset.title"), Form: true, CSRF: tok, Error: text,
			Action:      ResetPath + "?uuid=" + url.QueryEscape(token),
			Certificate: certView{Subject: cert.Subject, Issuer: cert.Issuer}})
	}
	pw := r.FormValue("password")
	if pw != r.FormValue("password_confirm") {
		return again(l.T("pin.reset.differ"))
	}
	if _, err := h.persons.CompletePINReset(r.Context(), token, pw); err != nil {
		var fe validation.Errors
		if errors.As(err, &fe) && len(fe) > 0 {
			// The reason is English, for API clients; the one rule a
			// password has is its length and text.
			return again(l.T("pin.reset.invalid", "min", person.MinPINLen, "max", person.MaxPINLen))
		}
		h.log.Info("PIN reset failed", "err", err)
		if reset.RedirectError != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectError)
		}
		return h.renderReset(c, http.StatusUnprocessableEntity, resetGone(l, err))
	}
	if reset.RedirectSuccess != "" {
		return c.Redirect(http.StatusSeeOther, reset.RedirectSuccess)
	}
	return h.renderReset(c, http.StatusOK, msg(l, "pin.reset.done", "pin.reset.done", "pin.reset.done.body", "ok"))
}
