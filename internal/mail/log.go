package mail

import (
	"context"
	"log/slog"
)

// Log is the mailer of serve and worker with VELLUM_MAIL=log: it logs that
// a message would have gone out and sends nothing. The operator chose it
// explicitly; it never stands in for a missing SMTP configuration.
type Log struct {
	log *slog.Logger
}

// NewLog logs to log.
func NewLog(log *slog.Logger) *Log {
	return &Log{log: log}
}

// Send logs m without its body: the body carries signing links and one-time
// codes, which are credentials.
func (l *Log) Send(_ context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	l.log.Warn("mail not sent (VELLUM_MAIL=log)", "tag", m.Tag, "to", m.To, "subject", m.Subject, "attachments", len(m.Attachments))
	return nil
}
