package envelope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/listing"
)

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.DB.Conn(ctx).Model(&Envelope{}).
		Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Get returns the envelope id of scope with its documents, recipients,
// fields and sessions; another scope's envelope is ErrNotFound.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Envelope, error) {
	return s.get(ctx, scope, id, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Envelope, error) {
	q := s.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = s.DB.ForUpdate(q, false)
	}
	return s.take(ctx, q, id)
}

// lockByID locks an envelope by id alone, for tasks and signer calls that
// reach it through a task payload or a token rather than an API key.
func (s *Service) lockByID(ctx context.Context, id string) (*Envelope, error) {
	return s.take(ctx, s.DB.ForUpdate(s.DB.Conn(ctx).Model(&Envelope{}).Where("id = ?", id), false), id)
}

// take runs q for envelope id and loads its parts.
func (s *Service) take(ctx context.Context, q *gorm.DB, id string) (*Envelope, error) {
	var env Envelope
	if err := q.Take(&env).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("envelope %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get envelope %s: %w", id, err)
	}
	if err := s.load(ctx, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

func (s *Service) load(ctx context.Context, env *Envelope) error {
	c := s.DB.Conn(ctx)
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Documents).Error; err != nil {
		return fmt.Errorf("load documents of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Recipients).Error; err != nil {
		return fmt.Errorf("load recipients of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Fields).Error; err != nil {
		return fmt.Errorf("load fields of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Find(&env.Sessions).Error; err != nil {
		return fmt.Errorf("load sessions of %s: %w", env.ID, err)
	}
	return nil
}

// Filter narrows an envelope list.
type Filter struct {
	Statuses          []Status
	SubjectLike       string
	ExternalReference string
}

var envelopeColumns = map[string]string{
	"createdAt": "created_at", "updatedAt": "updated_at", "subject": "subject",
	"status": "status", "expiresAt": "expires_at", "sentAt": "sent_at", "completedAt": "completed_at",
}

// SortFields are the fields envelopes can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "subject", "status", "expiresAt", "sentAt", "completedAt"}

// List returns one page of scope's envelopes, each with its children.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Envelope], error) {
	base := s.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if len(f.Statuses) > 0 {
		base = base.Where("status IN ?", f.Statuses)
	}
	if f.SubjectLike != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.SubjectLike))
		base = base.Where(`LOWER(subject) LIKE ? ESCAPE '\'`, "%"+esc+"%")
	}
	if f.ExternalReference != "" {
		base = base.Where("external_reference = ?", f.ExternalReference)
	}
	var page listing.Page[Envelope]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count envelopes: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(envelopeColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list envelopes: %w", err)
	}
	for i := range page.Items {
		if err := s.load(ctx, &page.Items[i]); err != nil {
			return page, err
		}
	}
	return page, nil
}

// Events returns the envelope's event log.
func (s *Service) Events(ctx context.Context, scope account.Scope, id string) ([]audit.Event, error) {
	if _, err := s.get(ctx, scope, id, false); err != nil {
		return nil, err
	}
	return s.EventLog.List(ctx, id)
}
