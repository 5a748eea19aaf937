package envelope

import (
	"context"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
)

// Access-code lockout: after AccessCodeMaxAttempts wrong codes the link is
// locked for AccessCodeLockout, twice as long after each further lockout
// (capped at AccessCodeMaxLockout). Whoever holds a leaked link can delay
// the recipient for a while, not lock them out for good; the sender can lift
// a lock at once.
const (
	AccessCodeMaxAttempts = OTPMaxAttempts
	AccessCodeLockout     = 15 * time.Minute
	AccessCodeMaxLockout  = 24 * time.Hour
)

// lockoutFor is the length of the n-th lockout (n from 1).
func lockoutFor(n int) time.Duration {
	d := AccessCodeLockout
	for i := 1; i < n && d < AccessCodeMaxLockout; i++ {
		d *= 2
	}
	return min(d, AccessCodeMaxLockout)
}

// checkAccessLock refuses while a lockout runs and, once it has run out,
// gives the recipient a fresh set of attempts.
func (s *Service) checkAccessLock(ctx context.Context, ss *Session) error {
	now := s.now()
	if ss.AuthLockedUntil != nil && now.Before(*ss.AuthLockedUntil) {
		return &LockedError{Until: *ss.AuthLockedUntil}
	}
	if ss.AuthLockedUntil != nil || ss.OTPAttempts >= AccessCodeMaxAttempts {
		ss.AuthLockedUntil, ss.OTPAttempts = nil, 0
		if err := s.store.setAttempts(ctx, ss); err != nil {
			return fmt.Errorf("end lockout: %w", err)
		}
	}
	return nil
}

// countWrongAccessCode records a wrong access code and starts a lockout on
// the last allowed attempt.
func (s *Service) countWrongAccessCode(ctx context.Context, ss *Session) error {
	ss.OTPAttempts++
	if ss.OTPAttempts >= AccessCodeMaxAttempts {
		ss.AuthLockouts++
		until := s.now().Add(lockoutFor(ss.AuthLockouts))
		ss.AuthLockedUntil = &until
	}
	if err := s.store.setAttempts(ctx, ss); err != nil {
		return err
	}
	return nil
}

// renewToken gives ss a new token (the previous one stops matching at once)
// and a fresh lifetime.
func (s *Service) renewToken(ctx context.Context, env *Envelope, ss *Session, now time.Time) error {
	ss.TokenGeneration++
	ss.TokenHash = hashToken(s.token(ss))
	ss.ExpiresAt = s.sessionExpiry(env, now)
	return s.store.setToken(ctx, ss)
}

// linkOf finds a SENT envelope's recipient with a signing link that is
// still theirs to use, locked for update.
func (s *Service) linkOf(ctx context.Context, scope account.Scope, op, id, recipientID string) (*Envelope, *Recipient, *Session, error) {
	env, err := s.store.envelope(ctx, scope, id, true)
	if err != nil {
		return nil, nil, nil, err
	}
	r := env.recipient(recipientID)
	if r == nil {
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrRecipientNotFound, recipientID)
	}
	if env.Status != StatusSent {
		return nil, nil, nil, stateErr(op, env.Status)
	}
	ss := env.session(r.ID)
	switch {
	case ss == nil || r.Role == RoleCC:
		return nil, nil, nil, fmt.Errorf("%w: a %s recipient has no signing link", ErrNoSigningLink, r.Role)
	case r.SignedAt != nil:
		return nil, nil, nil, ErrAlreadySigned
	case r.DeclinedAt != nil:
		return nil, nil, nil, ErrAlreadyDeclined
	}
	return env, r, ss, nil
}

// RotateLink replaces a recipient's signing link, for a link that leaked:
// the old token stops working at once, the new one gets a fresh lifetime,
// an access-code lockout is lifted, and when it is the recipient's turn the
// invitation goes out again with the new link. The envelope stays SENT.
func (s *Service) RotateLink(ctx context.Context, scope account.Scope, actor Actor, id, recipientID string) (*Envelope, error) {
	return s.onLink(ctx, scope, "rotate the link of a recipient of", id, recipientID, func(ctx context.Context, env *Envelope, r *Recipient, ss *Session) error {
		now := s.now()
		if err := s.renewToken(ctx, env, ss, now); err != nil {
			return err
		}
		if err := s.liftLock(ctx, ss); err != nil {
			return err
		}
		if ss.Status == SessionExpired {
			ss.Status, r.Status = SessionNotified, RecipientNotified
			if err := s.store.setSessionStatus(ctx, ss); err != nil {
				return err
			}
			if err := s.store.setRecipientStatus(ctx, r); err != nil {
				return err
			}
		}
		if r.Status != RecipientPending && hasTurn(env, r) {
			if err := s.enqueueNotify(ctx, env, r.ID, notifyInvitation, int(ss.TokenGeneration)); err != nil {
				return err
			}
		}
		env.UpdatedAt = now
		if err := s.store.saveEnvelope(ctx, env); err != nil {
			return err
		}
		return s.record(ctx, env, "recipient.link_rotated", actor, r.ID, nil)
	})
}

// Unlock lifts a recipient's access-code lockout and gives them a fresh set
// of attempts, keeping their link.
func (s *Service) Unlock(ctx context.Context, scope account.Scope, actor Actor, id, recipientID string) (*Envelope, error) {
	return s.onLink(ctx, scope, "unlock a recipient of", id, recipientID, func(ctx context.Context, env *Envelope, r *Recipient, ss *Session) error {
		if err := s.liftLock(ctx, ss); err != nil {
			return err
		}
		return s.record(ctx, env, "recipient.unlocked", actor, r.ID, nil)
	})
}

// onLink runs fn in one transaction on a recipient's signing link, as
// linkOf finds and checks it, and returns the envelope fn left.
func (s *Service) onLink(ctx context.Context, scope account.Scope, what, id, recipientID string,
	fn func(ctx context.Context, env *Envelope, r *Recipient, ss *Session) error) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		e, r, ss, err := s.linkOf(ctx, scope, what, id, recipientID)
		if err != nil {
			return err
		}
		env = e
		return fn(ctx, e, r, ss)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

func (s *Service) liftLock(ctx context.Context, ss *Session) error {
	ss.AuthLockedUntil, ss.OTPAttempts, ss.AuthLockouts = nil, 0, 0
	if err := s.store.setAttempts(ctx, ss); err != nil {
		return fmt.Errorf("unlock session %s: %w", ss.ID, err)
	}
	return nil
}
