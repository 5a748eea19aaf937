package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/mail/mailtest"
)

func TestSMTP_SendsTextHTMLAndAttachmentsToARealServer(t *testing.T) {
	srv, err := mailtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	m, err := mail.NewSMTP(mail.SMTPConfig{Host: srv.Host(), Port: srv.Port(), TLS: "none", From: "Vellum <no-reply@vellum.test>"})
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.7 fake")
	err = m.Send(context.Background(), mail.Message{
		To: []string{"marie@example.com"}, Subject: "Please sign: Contrat de prestation",
		Text: "Hello Marie,\nplease sign.", HTML: "<p>Hello Marie,</p>",
		Attachments: []mail.Attachment{{Filename: "contrat-signed.pdf", ContentType: "application/pdf", Data: pdf}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := srv.Wait(5*time.Second, mailtest.To("marie@example.com", "Contrat de prestation"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "please sign.") || !strings.Contains(got.HTML, "<p>Hello Marie,</p>") {
		t.Errorf("parts: text %q html %q", got.Text, got.HTML)
	}
	if !bytes.Equal(got.Attachments["contrat-signed.pdf"], pdf) {
		t.Errorf("attachment: %q", got.Attachments["contrat-signed.pdf"])
	}
	if got.From != "no-reply@vellum.test" {
		t.Errorf("envelope sender %q", got.From)
	}
}

func TestMessage_RejectsMissingRecipientSubjectOrBody(t *testing.T) {
	for name, m := range map[string]mail.Message{
		"no recipient":   {Subject: "s", Text: "t"},
		"bad recipient":  {To: []string{"not an address"}, Subject: "s", Text: "t"},
		"no subject":     {To: []string{"a@example.com"}, Text: "t"},
		"header in subj": {To: []string{"a@example.com"}, Subject: "s\r\nBcc: x@example.com", Text: "t"},
		"no text":        {To: []string{"a@example.com"}, Subject: "s"},
	} {
		if err := m.Validate(); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestSMTP_UnreachableServerIsAnError(t *testing.T) {
	m, _ := mail.NewSMTP(mail.SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: "none", Timeout: time.Second})
	err := m.Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("expected an error")
	}
}

func TestDev_KeepsMessagesAndServesThem(t *testing.T) {
	d := mail.NewDev(nil, 2)
	for _, s := range []string{"one", "two", "three"} {
		if err := d.Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: s, Text: "t", Tag: "invitation"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Messages(); len(got) != 2 || got[0].Subject != "two" {
		t.Fatalf("kept %v", got)
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/dev/mail?format=json", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"subject":"three"`) {
		t.Fatalf("json: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/dev/mail", nil))
	if !strings.Contains(rec.Body.String(), "three") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("html: %s", rec.Body)
	}
}

func TestLog_LogsWithoutTheBody(t *testing.T) {
	var buf bytes.Buffer
	l := mail.NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	err := l.Send(context.Background(), mail.Message{To: []string{"a@example.com"}, Subject: "Please sign", Text: "https://sign.example/s/SECRET"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "a@example.com") || !strings.Contains(buf.String(), "Please sign") {
		t.Errorf("log lacks recipient or subject: %s", buf.String())
	}
	if strings.Contains(buf.String(), "SECRET") {
		t.Errorf("log carries the body: %s", buf.String())
	}
	if err := l.Send(context.Background(), mail.Message{Subject: "s", Text: "t"}); !errors.Is(err, mail.ErrInvalidMessage) {
		t.Errorf("invalid message: %v", err)
	}
}
