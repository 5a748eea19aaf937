package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/mail/mailtest"
	"github.com/vellum-sign/vellum/internal/webhook"
)

func TestMailNotifier_MailsTheAccountOverSMTP(t *testing.T) {
	srv, err := mailtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(), From: "Vellum <no-reply@example.com>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	n := webhook.MailNotifier{Mailer: m, PublicURL: "https://sign.example.com"}
	err = n.EndpointDisabled(context.Background(), webhook.DisabledNotice{
		AccountID: "acct_1", AccountEmail: "ops@example.com", Environment: "live", EndpointID: "wh_1",
		URL: "https://hooks.example.com/vellum", Reason: "the receiver answered 410 Gone", DisabledAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := srv.Wait(10*time.Second, func(mailtest.Message) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(msg.To, ","), "ops@example.com") || !strings.Contains(msg.Subject, "https://hooks.example.com/vellum") {
		t.Fatalf("message to %v, subject %q", msg.To, msg.Subject)
	}
	for _, want := range []string{"410 Gone", "wh_1", "https://sign.example.com/api/v1/webhooks/wh_1"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("body lacks %q:\n%s", want, msg.Text)
		}
	}

	// An account without an address gets no mail and no error.
	if err := n.EndpointDisabled(context.Background(), webhook.DisabledNotice{EndpointID: "wh_2"}); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages()); got != 1 {
		t.Fatalf("%d messages, want 1", got)
	}
}
