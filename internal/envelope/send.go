package envelope

import (
	"context"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/ident"
)

// Send moves a DRAFT envelope to SENT: it creates every recipient's signing
// session, opens the first routing group and queues its invitations.
func (s *Service) Send(ctx context.Context, scope account.Scope, actor Actor, id string) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.store.envelope(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusDraft {
			return stateErr("send", env.Status)
		}
		now := s.now()
		var verrs ValidationError
		if env.ExpiresAt != nil && !env.ExpiresAt.After(now) {
			verrs = append(verrs, FieldError{Field: "expiresAt", Reason: "has passed; PATCH a later expiresAt before sending"})
		}
		for _, d := range env.Documents {
			if info, err := s.lookupDocument(ctx, scope, d.DocumentID); err != nil {
				return err
			} else if !info.found {
				verrs = append(verrs, FieldError{Field: "documentIds", Reason: "document " + d.DocumentID + " no longer exists"})
			}
		}
		if len(verrs) > 0 {
			return verrs
		}
		env.Status = StatusSent
		env.SentAt = &now
		for i := range env.Recipients {
			r := &env.Recipients[i]
			ss := Session{ID: ident.New("ses"), EnvelopeID: env.ID, RecipientID: r.ID, Status: SessionCreated,
				CreatedAt: now, ExpiresAt: s.sessionExpiry(env, now)}
			ss.TokenHash = hashToken(s.token(&ss))
			if err := s.store.createSession(ctx, &ss); err != nil {
				return err
			}
			env.Sessions = append(env.Sessions, ss)
		}
		if err := s.record(ctx, env, "envelope.sent", actor, "", nil); err != nil {
			return err
		}
		if err := s.advance(ctx, env, now); err != nil {
			return err
		}
		env.Version++
		env.UpdatedAt = now
		return s.store.saveEnvelope(ctx, env)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// sessionExpiry is when a session opened now stops working: its URL TTL,
// capped by the envelope's expiry.
func (s *Service) sessionExpiry(env *Envelope, now time.Time) time.Time {
	ttl := DefaultURLTTL
	if env.URLTTLSeconds > 0 {
		ttl = time.Duration(env.URLTTLSeconds) * time.Second
	}
	exp := now.Add(ttl)
	if env.ExpiresAt != nil && env.ExpiresAt.Before(exp) {
		exp = *env.ExpiresAt
	}
	return exp
}

// turnOrder is the routing order whose turn it is: the lowest order with an
// acting recipient whose signature is not yet applied; 0 when all are done.
func turnOrder(env *Envelope) int {
	turn := 0
	for _, r := range env.Recipients {
		if r.Role.Acts() && r.AppliedAt == nil && (turn == 0 || r.RoutingOrder < turn) {
			turn = r.RoutingOrder
		}
	}
	return turn
}

// hasTurn reports whether r may act now.
func hasTurn(env *Envelope, r *Recipient) bool {
	if env.SigningOrder != Sequential {
		return true
	}
	return env.CurrentOrder > 0 && r.RoutingOrder <= env.CurrentOrder
}

// advance opens the routing group whose turn it is: its pending signers,
// approvers and viewers get their invitation. Viewers never block.
func (s *Service) advance(ctx context.Context, env *Envelope, now time.Time) error {
	turn := turnOrder(env)
	env.CurrentOrder = turn
	for i := range env.Recipients {
		r := &env.Recipients[i]
		if r.Status != RecipientPending || r.Role == RoleCC {
			continue
		}
		if env.SigningOrder == Sequential && (turn == 0 || r.RoutingOrder > turn) {
			continue
		}
		ss := env.session(r.ID)
		if ss == nil {
			continue
		}
		r.Status = RecipientCreated
		ss.ExpiresAt = s.sessionExpiry(env, now)
		if err := s.store.setRecipientStatus(ctx, r); err != nil {
			return err
		}
		if err := s.store.setSessionExpiry(ctx, ss); err != nil {
			return err
		}
		if err := s.enqueueNotify(ctx, env, r.ID, notifyInvitation, 0); err != nil {
			return err
		}
	}
	return nil
}
