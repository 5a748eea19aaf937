package signerpage

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/webpage"
	"github.com/vellum-sign/vellum/pkg/pdffont"
)

//go:embed templates/*.html
var templateFS embed.FS

func parseTemplates(assets *webpage.Assets) (*template.Template, error) {
	return assets.Templates(templateFS, "templates/*.html")
}

// pageData is what page.html renders: either the signing form or a page
// explaining why there is nothing (more) to do.
type pageData struct {
	// L speaks the page's language; every string the page shows comes
	// from it.
	L     i18n.Localizer
	Title string
	// State is set when the token cannot be used to act; the form is not shown.
	State *stateInfo

	Subject   string
	Message   string
	Recipient recipientData
	Documents []documentData
	// ViewOnly is a viewer's or CC's page: documents, no form.
	ViewOnly bool
	// Approve is an approver's page: consent and a button, no signature.
	Approve    bool
	Inputs     []inputData
	OTP        bool
	AccessCode bool
	// OIDC is the identity-provider login step of an OIDC recipient.
	OIDC     *oidcData
	SignText string
	// Handwriting lists the characters the handwriting face has, as hex
	// ranges ("20-7e,a0-ff"), so the script picks the preview face as the
	// stamp will; TypedSerif is that choice for the name the page opens with.
	Handwriting string
	TypedSerif  bool
	// API is the token's signer API base path, which the script calls.
	API        string
	SuccessURL string
	CancelURL  string
	// Embed is what embed.js needs when the page may be framed.
	Embed embedData
}

// embedData is rendered as data- attributes for embed.js.
type embedData struct {
	// Origins are the allowed embedding origins, space-separated; empty
	// when the page may not be framed.
	Origins string
	// Origin is a validated ?origin= parameter.
	Origin      string
	EnvelopeID  string
	RecipientID string
}

// EmbedEvent is the event a state page reports to the embedding window.
func (d *pageData) EmbedEvent() string {
	if d.State == nil {
		return ""
	}
	switch d.State.Kind {
	case stateSigned:
		return "signed"
	case stateDeclined:
		return "declined"
	}
	return "error"
}

// oidcData is the login step: where to start it, and whom the provider
// vouched for once it has.
type oidcData struct {
	Provider   string
	LoginURL   string
	Identified string
	// Failed is set when the provider's answer did not count (the callback
	// came back with ?login=failed).
	Failed bool
}

type recipientData struct {
	Name        string
	Email       string
	MaskedEmail string
}

type documentData struct {
	ID   string
	Name string
	Meta string
	URL  string
}

// inputData is a field the signer fills in on the page: text and checkbox
// fields. Signature, initials and date fields are filled from the
// signature and the signing time.
type inputData struct {
	ID       string
	Label    string
	Checkbox bool
	Required bool
	Value    string
}

// stateInfo is a page that explains a token's state.
type stateInfo struct {
	Kind    stateKind
	Heading string
	Body    string
}

type stateKind string

const (
	stateSigned      stateKind = "signed"
	stateDeclined    stateKind = "declined"
	stateExpired     stateKind = "expired"
	stateNotYourTurn stateKind = "not-your-turn"
	stateCompleted   stateKind = "completed"
	stateVoided      stateKind = "voided"
	stateEnded       stateKind = "ended"
	stateCopyOnly    stateKind = "copy-only"
	stateUnknown     stateKind = "unknown"
	stateBusy        stateKind = "busy"
	stateUnavailable stateKind = "unavailable"
)

// statePage explains a state. The signer has no account and often a
// phone: each state says what happened and what, if anything, to do next
// (state.<kind>.title and .body in the catalogue).
func statePage(l i18n.Localizer, kind stateKind, v *signerView) *pageData {
	title := l.T("state." + string(kind) + ".title")
	d := &pageData{L: l, Title: title, State: &stateInfo{Kind: kind, Heading: title, Body: l.T("state." + string(kind) + ".body")}}
	if v != nil {
		d.Subject = v.Envelope.Subject
		if kind == stateSigned && v.Recipient.SignedAt != nil {
			d.State.Body = l.T("state.signed.body.at", "when", l.DateTime(*v.Recipient.SignedAt))
		}
	}
	return d
}

// problemPage maps a failed signer API call to a state page and the page's
// HTTP status, by the problem's stable code.
func problemPage(l i18n.Localizer, p *problem) (*pageData, int) {
	switch {
	case p.Status == http.StatusNotFound:
		return statePage(l, stateUnknown, nil), http.StatusNotFound
	case p.Status == http.StatusTooManyRequests:
		return statePage(l, stateBusy, nil), http.StatusTooManyRequests
	case p.Status >= 500 || p.Status < 400:
		return statePage(l, stateUnavailable, nil), http.StatusServiceUnavailable
	}
	switch p.Code {
	case "not_your_turn":
		return statePage(l, stateNotYourTurn, nil), http.StatusConflict
	case "recipient_cannot_sign":
		return statePage(l, stateCopyOnly, nil), http.StatusOK
	case "recipient_already_declined":
		return statePage(l, stateDeclined, nil), http.StatusOK
	case "recipient_already_signed", "recipient_already_finished":
		return statePage(l, stateSigned, nil), http.StatusOK
	case "envelope_declined":
		return statePage(l, stateEnded, nil), http.StatusGone
	case "envelope_completed":
		return statePage(l, stateCompleted, nil), http.StatusGone
	case "envelope_voided":
		return statePage(l, stateVoided, nil), http.StatusGone
	case "signing_link_expired", "envelope_expired":
		return statePage(l, stateExpired, nil), http.StatusGone
	}
	return statePage(l, stateEnded, nil), http.StatusGone
}

// viewPage builds the page for a token the API accepted: the signing form,
// or the state page when the signer has nothing (more) to do.
func viewPage(l i18n.Localizer, v *signerView, token string, loginFailed bool) *pageData {
	switch strings.ToUpper(v.Recipient.Status) {
	case "SIGNED", "COMPLETED":
		return statePage(l, stateSigned, v)
	case "DECLINED":
		return statePage(l, stateDeclined, v)
	case "EXPIRED":
		return statePage(l, stateExpired, v)
	case "PENDING":
		return statePage(l, stateNotYourTurn, v)
	}
	switch strings.ToUpper(v.Envelope.Status) {
	case "COMPLETED":
		return statePage(l, stateCompleted, v)
	case "VOIDED":
		return statePage(l, stateVoided, v)
	case "DECLINED", "EXPIRED":
		return statePage(l, stateEnded, v)
	}

	base := apiBase(token)
	d := &pageData{
		L:       l,
		Title:   v.Envelope.Subject,
		Subject: v.Envelope.Subject,
		Message: v.Envelope.Message,
		Recipient: recipientData{Name: v.Recipient.Name, Email: v.Recipient.Email,
			MaskedEmail: maskEmail(v.Recipient.Email)},
		ViewOnly:    !v.Session.CanSign || !roleActs(v.Recipient.Role),
		Approve:     strings.EqualFold(v.Recipient.Role, "APPROVER"),
		SignText:    strings.TrimSpace(v.Envelope.SignText),
		Handwriting: handwritingRanges(),
		TypedSerif:  pdffont.SignatureStack(v.Recipient.Name)[0] != pdffont.Handwriting(),
		API:         base,
	}
	switch strings.ToUpper(v.Recipient.AuthMethod) {
	case "EMAIL_OTP":
		d.OTP = true
	case "ACCESS_CODE":
		d.AccessCode = true
	case "OIDC":
		d.OIDC = &oidcData{Provider: v.Recipient.AuthProvider, LoginURL: base + "/oidc", Failed: loginFailed}
		if id := v.Recipient.Identity; id != nil {
			d.OIDC.Identified = firstNonEmpty(id.Name, id.Subject)
		}
	}
	d.SuccessURL, d.CancelURL = httpURL(v.Redirects.Success), httpURL(v.Redirects.Cancel)

	names := map[string]string{}
	for _, doc := range v.Documents {
		name := firstNonEmpty(doc.Title, doc.Filename, l.T("sign.doc.untitled"))
		names[doc.ID] = name
		d.Documents = append(d.Documents, documentData{
			ID: doc.ID, Name: name, Meta: documentMeta(l, doc.Pages, doc.Size),
			URL: base + "/documents/" + url.PathEscape(doc.ID),
		})
	}
	counts := map[string]int{}
	for _, f := range v.Fields {
		t := strings.ToUpper(f.Type)
		if t != "TEXT" && t != "CHECKBOX" {
			continue
		}
		counts[t]++
		label := l.T("sign.field."+strings.ToLower(t), "i", counts[t])
		if n := names[f.DocumentID]; n != "" {
			label = l.T("sign.field.where", "label", label, "document", n, "page", f.Page)
		}
		d.Inputs = append(d.Inputs, inputData{ID: f.ID, Label: label, Checkbox: t == "CHECKBOX", Required: f.Required, Value: f.Value})
	}
	return d
}

func documentMeta(l i18n.Localizer, pages int, size int64) string {
	parts := []string{"PDF"}
	if pages > 0 {
		parts = append(parts, l.N("sign.doc.pages", pages))
	}
	if size > 0 {
		parts = append(parts, l.Size(size))
	}
	return strings.Join(parts, " · ")
}

// ReadHint asks the signer to read the documents before acting.
func (d *pageData) ReadHint() string {
	return d.L.T("sign.read." + d.verb() + "." + d.count())
}

// ConsentLabel is the consent checkbox's label.
func (d *pageData) ConsentLabel() string {
	verb := "sign"
	if d.Approve {
		verb = "approve"
	}
	return d.L.T("sign.consent." + verb + "." + d.count())
}

func (d *pageData) verb() string {
	switch {
	case d.ViewOnly:
		return "view"
	case d.Approve:
		return "approve"
	}
	return "sign"
}

func (d *pageData) count() string {
	if len(d.Documents) == 1 {
		return "single"
	}
	return "multi"
}

// ScriptMessages are the messages signer.js shows, as JSON for a data-
// attribute (the CSP admits no inline script, and the page needs none).
func (d *pageData) ScriptMessages() (string, error) {
	b, err := json.Marshal(d.L.Messages("js."))
	return string(b), err
}

// maskEmail shows enough of the address for the signer to recognise it
// (for "we sent a code to …") without printing it whole.
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return ""
	}
	r := []rune(local)
	return string(r[0]) + strings.Repeat("•", min(max(len(r)-1, 1), 6)) + "@" + domain
}

// httpURL passes only absolute http(s) URLs: a redirect target is the
// integrator's input and must not become a javascript: link.
func httpURL(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(strings.ToLower(s), "https://") || strings.HasPrefix(strings.ToLower(s), "http://") {
		return s
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// handwritingRanges is the handwriting face's coverage for the page.
var handwritingRanges = sync.OnceValue(func() string {
	var b strings.Builder
	for i, r := range pdffont.Handwriting().Ranges() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%x-%x", r[0], r[1])
	}
	return b.String()
})
