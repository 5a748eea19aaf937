package envelope

import (
	"context"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/jobs"
)

// Void ends a SENT envelope.
func (s *Service) Void(ctx context.Context, scope account.Scope, actor Actor, id, reason string) (*Envelope, error) {
	var env *Envelope
	err := s.DB.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if env, err = s.store.envelope(ctx, scope, id, true); err != nil {
			return err
		}
		if env.Status != StatusSent {
			return stateErr("void", env.Status)
		}
		return s.void(ctx, env, actor, reason)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

func (s *Service) void(ctx context.Context, env *Envelope, actor Actor, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 1000 {
		return ValidationError{{Field: "reason", Reason: "must be at most 1000 characters"}}
	}
	now := s.now()
	env.Status = StatusVoided
	env.VoidReason = reason
	env.VoidedAt = &now
	if err := s.closeSessions(ctx, env, now); err != nil {
		return err
	}
	if err := s.finishState(ctx, env, "envelope.voided", actor, map[string]string{"reason": reason}); err != nil {
		return err
	}
	return s.notifyAll(ctx, env, notifyVoided)
}

// closeSessions expires every open session of an envelope that ended.
func (s *Service) closeSessions(ctx context.Context, env *Envelope, now time.Time) error {
	for i := range env.Sessions {
		ss := &env.Sessions[i]
		if !ss.Status.open() {
			continue
		}
		ss.Status, ss.FinishedAt = SessionExpired, &now
		if err := s.store.finishSession(ctx, ss); err != nil {
			return err
		}
	}
	return nil
}

// finishState saves a final state, records it and schedules the sealing of
// the audit trail.
func (s *Service) finishState(ctx context.Context, env *Envelope, event string, actor Actor, details map[string]string) error {
	env.Version++
	env.UpdatedAt = s.now()
	if err := s.store.saveEnvelope(ctx, env); err != nil {
		return err
	}
	if err := s.record(ctx, env, event, actor, "", details); err != nil {
		return err
	}
	return s.Outbox.Enqueue(ctx, jobs.Task{Type: TaskFinalize, Key: env.ID, Queue: jobs.QueueCritical,
		Payload: taskPayload{EnvelopeID: env.ID}, Timeout: 10 * time.Minute})
}
