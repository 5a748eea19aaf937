// Package mail sends Vellum's e-mails: invitations, reminders, one-time
// codes, completion, decline and void notices. A Mailer delivers a Message;
// SMTP delivers through a real server, Dev keeps messages in memory and logs
// them for `vellum dev` (GET /dev/mail). Sending happens in tasks, never in
// request handlers, so a slow or failing server delays mail, not the API.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Attachment is a file attached to a message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Message is one e-mail with a plain-text and an HTML part.
type Message struct {
	To          []string // bare addresses or "Name <addr>"
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
	// Tag says what the message is (invitation, reminder…), for logs and
	// the dev mailbox; it is not sent.
	Tag string
}

// Mailer delivers messages.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage means a message lacks recipients, subject or body.
var ErrInvalidMessage = errors.New("mail: invalid message")

// Validate checks a message before it is handed to a transport.
func (m Message) Validate() error {
	if len(m.To) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalidMessage)
	}
	for _, to := range m.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("%w: recipient %q: %v", ErrInvalidMessage, to, err)
		}
	}
	if strings.TrimSpace(m.Subject) == "" || strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: subject must be one non-empty line", ErrInvalidMessage)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: no text body", ErrInvalidMessage)
	}
	return nil
}
