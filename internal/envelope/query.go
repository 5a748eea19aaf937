package envelope

import (
	"context"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/listing"
)

// Get returns the envelope id of scope with its documents, recipients,
// fields and sessions; another scope's envelope is ErrNotFound.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Envelope, error) {
	return s.store.envelope(ctx, scope, id, false)
}

// Filter narrows an envelope list.
type Filter struct {
	Statuses          []Status
	SubjectLike       string
	ExternalReference string
}

// SortFields are the fields envelopes can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "subject", "status", "expiresAt", "sentAt", "completedAt"}

// List returns one page of scope's envelopes, each with its children.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Envelope], error) {
	return s.store.listEnvelopes(ctx, scope, q, f)
}

// Events returns the envelope's event log.
func (s *Service) Events(ctx context.Context, scope account.Scope, id string) ([]audit.Event, error) {
	if _, err := s.store.envelope(ctx, scope, id, false); err != nil {
		return nil, err
	}
	return s.EventLog.List(ctx, id)
}
