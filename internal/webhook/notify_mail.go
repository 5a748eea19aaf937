package webhook

import (
	"context"
	"fmt"

	"github.com/vellum-sign/vellum/internal/mail"
)

// MailNotifier tells an account by e-mail that one of its endpoints was
// disabled, so a silent receiver does not silently lose events.
type MailNotifier struct {
	Mailer    mail.Mailer
	PublicURL string
}

// EndpointDisabled implements Notifier.
func (m MailNotifier) EndpointDisabled(ctx context.Context, n DisabledNotice) error {
	if n.AccountEmail == "" {
		return nil // nobody to tell; the disable is logged and visible in the API
	}
	text := fmt.Sprintf(`Your Vellum webhook endpoint has been disabled.

Endpoint: %s (%s)
Environment: %s
Disabled at: %s
Reason: %s

Events are no longer delivered to it. When the receiver works again, re-enable it with
PATCH %s/api/v1/webhooks/%s {"enabled": true}, and retry failed deliveries from
GET %s/api/v1/webhooks/%s/deliveries.
`, n.URL, n.EndpointID, n.Environment, n.DisabledAt.UTC().Format("2006-01-02 15:04 UTC"), n.Reason,
		m.PublicURL, n.EndpointID, m.PublicURL, n.EndpointID)
	err := m.Mailer.Send(ctx, mail.Message{
		To:      []string{n.AccountEmail},
		Subject: "Webhook endpoint disabled: " + n.URL,
		Text:    text,
		Tag:     "webhook-disabled",
	})
	if err != nil {
		return fmt.Errorf("mail disabled-endpoint notice for %s: %w", n.EndpointID, err)
	}
	return nil
}
