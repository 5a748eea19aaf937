package signerpage

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"

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

// stateCopy is what each state says. The signer has no account and often
// a phone: say what happened and what, if anything, to do next.
var stateCopy = map[stateKind][2]string{
	stateSigned:      {"You have signed", "Thank you. Your signature has been recorded. Once everyone has signed, you will receive the completed documents by e-mail."},
	stateDeclined:    {"You declined to sign", "You declined to sign these documents. The sender has been told. If this was a mistake, contact the sender."},
	stateExpired:     {"This signing link has expired", "The link is no longer valid. If you still need to sign, ask the sender to send you a new invitation."},
	stateNotYourTurn: {"It is not your turn yet", "These documents are signed in a set order and others must act before you. We will e-mail you when it is your turn."},
	stateCompleted:   {"This envelope is complete", "Everyone has signed. There is nothing more to do here."},
	stateVoided:      {"This envelope was cancelled", "The sender cancelled this envelope, so it can no longer be signed."},
	stateEnded:       {"This envelope can no longer be signed", "It was declined, cancelled or has expired. Contact the sender if you have questions."},
	stateCopyOnly:    {"There is nothing for you to sign", "You receive a copy of this envelope. The completed documents will be e-mailed to you once everyone has signed."},
	stateBusy:        {"Too many requests", "This page was opened too often in a short time. Please wait a minute, then reload it."},
	stateUnknown:     {"This link is not valid", "Check that you opened the complete link from your invitation e-mail. If it still does not work, ask the sender for a new invitation."},
	stateUnavailable: {"Something went wrong on our side", "The signing page could not be loaded. Please try again in a few minutes."},
}

func statePage(kind stateKind, v *signerView) *pageData {
	c := stateCopy[kind]
	d := &pageData{Title: c[0], State: &stateInfo{Kind: kind, Heading: c[0], Body: c[1]}}
	if v != nil {
		d.Subject = v.Envelope.Subject
		if kind == stateSigned && v.Recipient.SignedAt != nil {
			d.State.Body = fmt.Sprintf("Thank you. You signed on %s. Once everyone has signed, you will receive the completed documents by e-mail.",
				v.Recipient.SignedAt.UTC().Format("2 January 2006 at 15:04 UTC"))
		}
	}
	return d
}

// problemPage maps a failed signer API call to a state page and the page's
// HTTP status, by the problem's stable code.
func problemPage(p *problem) (*pageData, int) {
	switch {
	case p.Status == http.StatusNotFound:
		return statePage(stateUnknown, nil), http.StatusNotFound
	case p.Status == http.StatusTooManyRequests:
		return statePage(stateBusy, nil), http.StatusTooManyRequests
	case p.Status >= 500 || p.Status < 400:
		return statePage(stateUnavailable, nil), http.StatusServiceUnavailable
	}
	switch p.Code {
	case "not_your_turn":
		return statePage(stateNotYourTurn, nil), http.StatusConflict
	case "recipient_cannot_sign":
		return statePage(stateCopyOnly, nil), http.StatusOK
	case "recipient_already_declined":
		return statePage(stateDeclined, nil), http.StatusOK
	case "recipient_already_signed", "recipient_already_finished":
		return statePage(stateSigned, nil), http.StatusOK
	case "envelope_declined":
		return statePage(stateEnded, nil), http.StatusGone
	case "envelope_completed":
		return statePage(stateCompleted, nil), http.StatusGone
	case "envelope_voided":
		return statePage(stateVoided, nil), http.StatusGone
	case "signing_link_expired", "envelope_expired":
		return statePage(stateExpired, nil), http.StatusGone
	}
	return statePage(stateEnded, nil), http.StatusGone
}

// viewPage builds the page for a token the API accepted: the signing form,
// or the state page when the signer has nothing (more) to do.
func viewPage(v *signerView, token string, loginFailed bool) *pageData {
	switch strings.ToUpper(v.Recipient.Status) {
	case "SIGNED", "COMPLETED":
		return statePage(stateSigned, v)
	case "DECLINED":
		return statePage(stateDeclined, v)
	case "EXPIRED":
		return statePage(stateExpired, v)
	case "PENDING":
		return statePage(stateNotYourTurn, v)
	}
	switch strings.ToUpper(v.Envelope.Status) {
	case "COMPLETED":
		return statePage(stateCompleted, v)
	case "VOIDED":
		return statePage(stateVoided, v)
	case "DECLINED", "EXPIRED":
		return statePage(stateEnded, v)
	}

	base := apiBase(token)
	d := &pageData{
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
		name := firstNonEmpty(doc.Title, doc.Filename, "Document")
		names[doc.ID] = name
		d.Documents = append(d.Documents, documentData{
			ID: doc.ID, Name: name, Meta: documentMeta(doc.Pages, doc.Size),
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
		kind := "Text"
		if t == "CHECKBOX" {
			kind = "Checkbox"
		}
		label := fmt.Sprintf("%s %d", kind, counts[t])
		if n := names[f.DocumentID]; n != "" {
			label += fmt.Sprintf(" (%s, page %d)", n, f.Page)
		}
		d.Inputs = append(d.Inputs, inputData{ID: f.ID, Label: label, Checkbox: t == "CHECKBOX", Required: f.Required, Value: f.Value})
	}
	return d
}

func documentMeta(pages int, size int64) string {
	var parts []string
	parts = append(parts, "PDF")
	switch {
	case pages == 1:
		parts = append(parts, "1 page")
	case pages > 1:
		parts = append(parts, fmt.Sprintf("%d pages", pages))
	}
	switch {
	case size >= 1<<20:
		parts = append(parts, fmt.Sprintf("%.1f MB", float64(size)/(1<<20)))
	case size > 0:
		parts = append(parts, fmt.Sprintf("%d KB", (size+1023)/1024))
	}
	return strings.Join(parts, " · ")
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
