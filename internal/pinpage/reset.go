package pinpage

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/validation"
	"github.com/vellum-sign/vellum/internal/webpage"
)

// ResetPath is where the one-time password reset link points.
const ResetPath = "/pin/reset-password"

// ResetURL is the reset link of token under publicURL.
func ResetURL(publicURL, token string) string {
	return publicURL + ResetPath + "?uuid=" + url.QueryEscape(token)
}

func (h *Handler) renderReset(c echo.Context, status int, d pageData) error {
	w := c.Response()
	webpage.SetHeaders(w.Header(), contentSecurityPolicy)
	w.Header().Set(echo.HeaderContentType, "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.tmpl.ExecuteTemplate(w, "reset.html", d); err != nil {
		h.log.Error("render reset page", "err", err)
	}
	return nil
}

func resetGone(err error) pageData {
	if errors.Is(err, person.ErrPINResetExpired) {
		return pageData{Title: "Link expired", Message: &message{Heading: "This link has expired",
			Body: "Ask for a new password reset link.", Class: "error"}}
	}
	return pageData{Title: "Not found", Message: &message{Heading: "No such link",
		Body: "The link is wrong or was already used.", Class: "error"}}
}

func (h *Handler) showReset(c echo.Context) error {
	token := c.QueryParam("uuid")
	r, cert, err := h.persons.GetPINReset(c.Request().Context(), token)
	if err != nil {
		if errors.Is(err, person.ErrPINResetExpired) && r.RedirectExpired != "" {
			return c.Redirect(http.StatusSeeOther, r.RedirectExpired)
		}
		if errors.Is(err, person.ErrPINResetExpired) || errors.Is(err, person.ErrPINResetUnknown) {
			return h.renderReset(c, http.StatusNotFound, resetGone(err))
		}
		return err
	}
	tok, err := h.issueTokenAt(c, ResetPath)
	if err != nil {
		return err
	}
	return h.renderReset(c, http.StatusOK, pageData{Title: "New password", Form: true, CSRF: tok,
		Action:      ResetPath + "?uuid=" + url.QueryEscape(token),
		Certificate: certView{Subject: cert.Subject, Issuer: cert.Issuer}})
}

func (h *Handler) submitReset(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	token := c.QueryParam("uuid")
	reset, cert, err := h.persons.GetPINReset(r.Context(), token)
	if err != nil {
		if errors.Is(err, person.ErrPINResetExpired) && reset.RedirectExpired != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectExpired)
		}
		if errors.Is(err, person.ErrPINResetExpired) || errors.Is(err, person.ErrPINResetUnknown) {
			return h.renderReset(c, http.StatusNotFound, resetGone(err))
		}
		return err
	}
	ck, cerr := r.Cookie(csrfCookie)
	if !sameOrigin(r) || cerr != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.FormValue("csrf_token"))) != 1 {
		return h.renderReset(c, http.StatusForbidden, pageData{Title: "Refused", Message: &message{Heading: "Request refused",
			Body: "The form expired or did not come from this page. Open the link again.", Class: "error"}})
	}
	if r.FormValue("action") == "cancel" {
		if reset.RedirectCancel != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectCancel)
		}
		return h.renderReset(c, http.StatusOK, pageData{Title: "Cancelled", Message: &message{Heading: "Cancelled",
			Body: "The password was not changed. You can close this page."}})
	}
	again := func(msg string) error {
		tok, err := h.issueTokenAt(c, ResetPath)
		if err != nil {
			return err
		}
		return h.renderReset(c, http.StatusUnprocessableEntity, pageData{Title: "New password", Form: true, CSRF: tok, Error: msg,
			Action:      ResetPath + "?uuid=" + url.QueryEscape(token),
			Certificate: certView{Subject: cert.Subject, Issuer: cert.Issuer}})
	}
	pw := r.FormValue("password")
	if pw != r.FormValue("password_confirm") {
		return again("The two passwords differ.")
	}
	if _, err := h.persons.CompletePINReset(r.Context(), token, pw); err != nil {
		var fe validation.Errors
		if errors.As(err, &fe) && len(fe) > 0 {
			return again("The password " + fe[0].Reason + ".")
		}
		h.log.Info("PIN reset failed", "err", err)
		if reset.RedirectError != "" {
			return c.Redirect(http.StatusSeeOther, reset.RedirectError)
		}
		return h.renderReset(c, http.StatusUnprocessableEntity, resetGone(err))
	}
	if reset.RedirectSuccess != "" {
		return c.Redirect(http.StatusSeeOther, reset.RedirectSuccess)
	}
	return h.renderReset(c, http.StatusOK, pageData{Title: "Password set", Message: &message{Heading: "Password set",
		Body: "The certificate's new password is set. You can close this page.", Class: "ok"}})
}
