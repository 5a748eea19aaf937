package envelope

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/mail"
)

// Kinds of notification e-mail.
const (
	notifyInvitation = "invitation"
	notifyReminder   = "reminder"
	notifyOTP        = "otp"
	notifyCompleted  = "completed"
	notifyDeclined   = "declined"
	notifyVoided     = "voided"
	notifyExpired    = "expired"
)

// accountRecipient addresses a notification to the account's own e-mail.
const accountRecipient = "account"

type notifyPayload struct {
	Kind        string `json:"kind"`
	EnvelopeID  string `json:"envelopeId"`
	RecipientID string `json:"recipientId"`
	// Nonce identifies the one-time code to mail (the code is derived).
	Nonce string `json:"nonce,omitempty"`
}

func (s *Service) enqueueNotify(ctx context.Context, env *Envelope, recipientID, kind string, seq int) error {
	return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskNotify, Key: fmt.Sprintf("%s:%s:%s:%d", kind, env.ID, recipientID, seq),
		Queue: jobs.QueueMail, Payload: notifyPayload{Kind: kind, EnvelopeID: env.ID, RecipientID: recipientID}})
}

// notifyAll tells everyone the envelope reached, and the account, that it
// ended: every recipient for completion, those already invited otherwise.
func (s *Service) notifyAll(ctx context.Context, env *Envelope, kind string) error {
	for _, r := range env.Recipients {
		if kind != notifyCompleted && r.Status == RecipientPending {
			continue
		}
		if kind != notifyCompleted && r.Role == RoleCC {
			continue
		}
		if err := s.enqueueNotify(ctx, env, r.ID, kind, 0); err != nil {
			return err
		}
	}
	return s.enqueueNotify(ctx, env, accountRecipient, kind, 0)
}

// Notify composes and sends one notification, then records an invitation
// as delivered. Mail is at-least-once: a crash after sending sends again.
func (s *Service) Notify(ctx context.Context, p notifyPayload) error {
	env, err := s.store.readEnvelope(ctx, p.EnvelopeID)
	if err != nil {
		return err
	}
	var to, name, token string
	var r *Recipient
	if p.RecipientID == accountRecipient {
		if s.Accounts == nil {
			return nil
		}
		acct, err := s.Accounts.GetAccount(ctx, env.AccountID)
		if err != nil {
			return fmt.Errorf("notify account of %s: %w", env.ID, err)
		}
		if acct.Email == "" {
			return nil // nobody to tell
		}
		to, name = acct.Email, acct.Name
	} else {
		if r = env.recipient(p.RecipientID); r == nil {
			return nil
		}
		to, name = r.Email, r.Name
		if ss := env.session(r.ID); ss != nil {
			token = s.token(ss)
		}
	}
	if (p.Kind == notifyInvitation || p.Kind == notifyReminder || p.Kind == notifyOTP) &&
		(env.Status != StatusSent || r == nil || r.SignedAt != nil || r.DeclinedAt != nil) {
		return nil // overtaken by events
	}
	msg, err := s.compose(ctx, env, p, r, name, token)
	if err != nil {
		return err
	}
	msg.To = []string{to}
	if s.Mailer == nil {
		s.Log.Warn("no mailer configured; notification dropped", "kind", p.Kind, "envelope_id", env.ID, "to", to)
	} else if err := s.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("send %s mail for %s: %w", p.Kind, env.ID, err)
	}
	if p.Kind != notifyInvitation && p.Kind != notifyReminder {
		return nil
	}
	return s.DB.WithTx(ctx, func(ctx context.Context) error {
		env, err := s.store.lockEnvelope(ctx, p.EnvelopeID)
		if err != nil {
			return err
		}
		r := env.recipient(p.RecipientID)
		ss := env.session(p.RecipientID)
		if r == nil || ss == nil || r.NotifiedAt != nil {
			return nil
		}
		now := s.now()
		r.NotifiedAt = &now
		if r.Status == RecipientCreated {
			r.Status = RecipientNotified
		}
		if err := s.store.markNotified(ctx, r); err != nil {
			return err
		}
		if ss.Status == SessionCreated {
			ss.Status, ss.NotifiedAt = SessionNotified, &now
			if err := s.store.markSessionNotified(ctx, ss); err != nil {
				return err
			}
		}
		return s.record(ctx, env, "recipient.notified", System, r.ID, map[string]string{"channel": "email"})
	})
}

var mailHTML = template.Must(template.New("mail").Parse(`<!doctype html>
<html lang="{{.Lang}}"><body style="font-family:Helvetica,Arial,sans-serif;color:#222;max-width:36rem">
<p>{{.Greeting}}</p>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}{{if .Link}}<p><a href="{{.Link}}" style="display:inline-block;padding:.6rem 1.2rem;background:#1d4ed8;color:#fff;text-decoration:none;border-radius:4px">{{.LinkText}}</a></p>
<p style="font-size:small;color:#666">{{.OrOpen}} {{.Link}}</p>
{{end}}{{range .Links}}<p><a href="{{.URL}}">{{.Text}}</a></p>
{{end}}<p style="font-size:small;color:#666">{{.Footer}}</p>
</body></html>`))

type mailLink struct{ Text, URL string }

// mailBody is one e-mail; every string in it comes from the i18n
// catalogue in the recipient's language.
type mailBody struct {
	Lang       string
	Greeting   string
	Paragraphs []string
	Link       string
	LinkText   string
	Links      []mailLink
	OrOpen     string
	Footer     string
}

func (b mailBody) render() (string, string, error) {
	var t strings.Builder
	t.WriteString(b.Greeting + "\n\n")
	for _, p := range b.Paragraphs {
		t.WriteString(p + "\n\n")
	}
	if b.Link != "" {
		t.WriteString(b.LinkText + ": " + b.Link + "\n\n")
	}
	for _, l := range b.Links {
		t.WriteString(l.Text + ": " + l.URL + "\n")
	}
	t.WriteString("\n" + b.Footer + "\n")
	var h bytes.Buffer
	if err := mailHTML.Execute(&h, b); err != nil {
		return "", "", fmt.Errorf("render mail: %w", err)
	}
	return t.String(), h.String(), nil
}

func (s *Service) compose(ctx context.Context, env *Envelope, p notifyPayload, r *Recipient, name, token string) (mail.Message, error) {
	// A recipient's locale wins over the envelope's language; the account's
	// own notices follow the envelope's.
	locale := ""
	if r != nil {
		locale = r.Locale
	}
	l := i18n.For(i18n.Negotiate("", locale, env.Language))
	b := mailBody{Lang: l.Tag(), Greeting: l.T("mail.hello", "name", name), OrOpen: l.T("mail.or"), Footer: l.T("mail.footer", "id", env.ID)}
	signURL := ""
	if token != "" {
		signURL = s.PublicURL + "/s/" + token
	}
	var subject string
	var attachments []mail.Attachment
	switch p.Kind {
	case notifyInvitation, notifyReminder:
		verb := "sign"
		switch r.Role {
		case RoleApprover:
			verb = "approve"
		case RoleViewer:
			verb = "review"
		}
		subject = l.T("mail.invite.subject."+verb, "subject", env.Subject)
		if p.Kind == notifyReminder {
			subject = l.T("mail.reminder", "subject", subject)
		}
		b.Paragraphs = append(b.Paragraphs, l.T("mail.invite.body."+verb, "subject", env.Subject,
			"documents", l.N("mail.documents", len(env.Documents))))
		if env.Message != "" {
			b.Paragraphs = append(b.Paragraphs, env.Message)
		}
		if env.ExpiresAt != nil {
			b.Paragraphs = append(b.Paragraphs, l.T("mail.deadline", "when", l.DateTime(*env.ExpiresAt)))
		}
		b.Link, b.LinkText = signURL, l.T("mail.button."+verb)
	case notifyOTP:
		ss := env.session(r.ID)
		if ss == nil {
			return mail.Message{}, fmt.Errorf("otp mail for %s: no session", r.ID)
		}
		subject = l.T("mail.otp.subject", "subject", env.Subject)
		b.Paragraphs = append(b.Paragraphs, l.T("mail.otp.code", "code", s.otpCode(ss.ID, p.Nonce)), l.T("mail.otp.validity"))
	case notifyCompleted:
		subject = l.T("mail.completed.subject", "subject", env.Subject)
		b.Paragraphs = append(b.Paragraphs, l.T("mail.completed.body", "subject", env.Subject))
		var total int64
		for _, d := range env.Documents {
			total += d.CurrentSize
		}
		if total <= s.MaxAttachmentBytes {
			b.Paragraphs = append(b.Paragraphs, l.T("mail.completed.attached"))
			for _, d := range env.Documents {
				data, err := s.readBlob(ctx, d.CurrentBlobKey)
				if err != nil {
					return mail.Message{}, err
				}
				attachments = append(attachments, mail.Attachment{Filename: signedName(d.Filename), ContentType: "application/pdf", Data: data})
			}
		} else {
			b.Paragraphs = append(b.Paragraphs, l.T("mail.completed.links"))
			for _, d := range env.Documents {
				u := s.PublicURL + "/api/v1/envelopes/" + env.ID + "/signed-document?documentId=" + d.DocumentID
				if token != "" {
					u = s.PublicURL + "/api/v1/signer/" + token + "/documents/" + d.DocumentID
				}
				b.Links = append(b.Links, mailLink{Text: d.Filename, URL: u})
			}
		}
	case notifyDeclined:
		subject = l.T("mail.declined.subject", "subject", env.Subject)
		who, reason := l.T("mail.declined.someone"), ""
		for _, x := range env.Recipients {
			if x.DeclinedAt != nil {
				who, reason = x.Name, x.DeclineReason
			}
		}
		b.Paragraphs = append(b.Paragraphs, l.T("mail.declined.body", "who", who, "subject", env.Subject))
		if reason != "" {
			b.Paragraphs = append(b.Paragraphs, l.T("mail.reason", "reason", reason))
		}
	case notifyVoided:
		subject = l.T("mail.voided.subject", "subject", env.Subject)
		b.Paragraphs = append(b.Paragraphs, l.T("mail.voided.body", "subject", env.Subject))
		if env.VoidReason != "" {
			b.Paragraphs = append(b.Paragraphs, l.T("mail.reason", "reason", env.VoidReason))
		}
	case notifyExpired:
		subject = l.T("mail.expired.subject", "subject", env.Subject)
		b.Paragraphs = append(b.Paragraphs, l.T("mail.expired.body", "subject", env.Subject))
	default:
		return mail.Message{}, fmt.Errorf("unknown notification kind %q", p.Kind)
	}
	text, html, err := b.render()
	if err != nil {
		return mail.Message{}, err
	}
	return mail.Message{Subject: oneLine(subject), Text: text, HTML: html, Attachments: attachments, Tag: p.Kind}, nil
}

func (s *Service) readBlob(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := s.Blobs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

func signedName(filename string) string {
	base := strings.TrimSuffix(filename, ".pdf")
	return base + "-signed.pdf"
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
