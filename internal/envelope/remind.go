package envelope

import (
	"context"
	"fmt"

	"github.com/vellum-sign/vellum/internal/account"
)

// Remind re-sends invitations to every recipient whose turn has come and
// who has not finished, extending their links' lifetime.
func (s *Service) Remind(ctx context.Context, scope account.Scope, actor Actor, id string) (*Envelope, int, error) {
	var env *Envelope
	n := 0
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.store.envelope(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusSent {
			return stateErr("remind", env.Status)
		}
		n, err = s.remind(ctx, env, actor)
		return err
	})
	return env, n, err
}

func (s *Service) remind(ctx context.Context, env *Envelope, actor Actor) (int, error) {
	now := s.now()
	n := 0
	for i := range env.Recipients {
		r := &env.Recipients[i]
		ss := env.session(r.ID)
		if ss == nil || !r.Role.Acts() || r.Status == RecipientPending || r.SignedAt != nil || r.DeclinedAt != nil {
			continue
		}
		if ss.Status == SessionExpired || !now.Before(ss.ExpiresAt) {
			// A link that expired is not revived: the reminder carries a new
			// one, and the old token stays dead.
			if err := s.renewToken(ctx, env, ss, now); err != nil {
				return 0, err
			}
			if ss.Status == SessionExpired {
				ss.Status = SessionNotified
				r.Status = RecipientNotified
				if err := s.store.setRecipientStatus(ctx, r); err != nil {
					return 0, err
				}
			}
		}
		ss.ExpiresAt = s.sessionExpiry(env, now)
		if err := s.store.extendSession(ctx, ss); err != nil {
			return 0, err
		}
		r.RemindersSent++
		if err := s.store.countReminder(ctx, r); err != nil {
			return 0, err
		}
		if err := s.enqueueNotify(ctx, env, r.ID, notifyReminder, r.RemindersSent); err != nil {
			return 0, err
		}
		n++
	}
	env.LastReminderAt = &now
	env.UpdatedAt = now
	if err := s.store.saveEnvelope(ctx, env); err != nil {
		return 0, err
	}
	return n, s.record(ctx, env, "envelope.reminded", actor, "", map[string]string{"recipients": fmt.Sprint(n)})
}
