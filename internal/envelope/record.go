package envelope

import (
	"context"
	"fmt"
	"slices"

	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// webhookTypes are the event types fanned out to webhooks.
var webhookTypes = []string{
	"envelope.created", "envelope.sent", "envelope.completed", "envelope.declined", "envelope.voided",
	"envelope.expired", "recipient.viewed", "recipient.signed", "recipient.declined",
}

// record appends an event with the documents' current hashes and, for the
// public types, publishes it to webhooks in the same transaction.
func (s *Service) record(ctx context.Context, env *Envelope, typ string, actor Actor, recipientID string, details map[string]string) error {
	hashes := make([]audit.DocumentHash, 0, len(env.Documents))
	for _, d := range env.Documents {
		hashes = append(hashes, audit.DocumentHash{DocumentID: d.DocumentID, SHA256: d.CurrentSHA256})
	}
	ev, err := s.EventLog.Append(ctx, audit.Event{
		EnvelopeID: env.ID, Type: typ, At: s.now(), Actor: actor.Name, RecipientID: recipientID,
		IP: actor.IP, UserAgent: actor.UserAgent, DocumentHashes: hashes, Details: details,
	})
	if err != nil {
		return err
	}
	if s.Publisher == nil || !slices.Contains(webhookTypes, typ) {
		return nil
	}
	err = s.Publisher.Publish(ctx, webhook.Event{
		ID: ev.ID, Type: typ, AccountID: env.AccountID, Environment: string(env.Environment),
		OccurredAt: ev.At, Data: s.eventView(env),
	})
	if err != nil {
		return fmt.Errorf("publish %s for %s: %w", typ, env.ID, err)
	}
	return nil
}
