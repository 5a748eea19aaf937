package envelope

import (
	"context"
	"fmt"
	"time"
)

// SweepResult counts what a sweep did.
type SweepResult struct {
	Expired         int // envelopes → EXPIRED
	SessionsExpired int // signing links that ran out
	RemindersQueued int // reminder e-mails queued
	OrphansDeleted  int // blobs a crash left uncommitted, deleted
}

// Sweep expires SENT envelopes past their expiry, expires signing sessions
// past their TTL, queues reminders that are due and deletes blobs a crash
// left uncommitted (SweepOrphans). Each envelope changes
// in its own transaction under its row lock, so concurrent sweeps and
// signers never double-apply a change.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := s.now()
	ids, err := s.store.expiredEnvelopeIDs(ctx, now)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	for _, id := range ids {
		err := s.DB.WithTx(ctx, func(ctx context.Context) error {
			env, err := s.store.lockEnvelope(ctx, id)
			if err != nil {
				return err
			}
			if env.Status != StatusSent || env.ExpiresAt == nil || env.ExpiresAt.After(now) {
				return nil
			}
			env.Status, env.ExpiredAt = StatusExpired, &now
			for i := range env.Recipients {
				r := &env.Recipients[i]
				if r.Role.Acts() && r.SignedAt == nil && r.DeclinedAt == nil && r.Status != RecipientPending {
					r.Status = RecipientExpired
					if err := s.store.setRecipientStatus(ctx, r); err != nil {
						return err
					}
				}
			}
			if err := s.closeSessions(ctx, env, now); err != nil {
				return err
			}
			if err := s.finishState(ctx, env, "envelope.expired", System, nil); err != nil {
				return err
			}
			res.Expired++
			return s.notifyAll(ctx, env, notifyExpired)
		})
		if err != nil {
			return res, fmt.Errorf("sweep: expire %s: %w", id, err)
		}
	}

	sessions, err := s.store.expiredSessions(ctx, now)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	for _, ss := range sessions {
		err := s.DB.WithTx(ctx, func(ctx context.Context) error {
			env, err := s.store.lockEnvelope(ctx, ss.EnvelopeID)
			if err != nil {
				return err
			}
			cur := env.session(ss.RecipientID)
			r := env.recipient(ss.RecipientID)
			if cur == nil || r == nil || !cur.Status.open() || cur.ExpiresAt.After(now) || env.Status != StatusSent {
				return nil
			}
			if r.Status == RecipientPending {
				return nil // not yet their turn; the link is renewed when it comes
			}
			cur.Status, cur.FinishedAt = SessionExpired, &now
			if err := s.store.finishSession(ctx, cur); err != nil {
				return err
			}
			r.Status = RecipientExpired
			if err := s.store.setRecipientStatus(ctx, r); err != nil {
				return err
			}
			res.SessionsExpired++
			return s.record(ctx, env, "recipient.session_expired", System, r.ID, nil)
		})
		if err != nil {
			return res, fmt.Errorf("sweep: expire session %s: %w", ss.ID, err)
		}
	}

	due, err := s.store.withReminders(ctx)
	if err != nil {
		return res, fmt.Errorf("sweep: %w", err)
	}
	for _, e := range due {
		last := e.SentAt
		if e.LastReminderAt != nil {
			last = e.LastReminderAt
		}
		if last == nil || now.Sub(*last) < time.Duration(e.ReminderIntervalHours)*time.Hour {
			continue
		}
		err := s.DB.WithTx(ctx, func(ctx context.Context) error {
			env, err := s.store.lockEnvelope(ctx, e.ID)
			if err != nil {
				return err
			}
			if env.Status != StatusSent {
				return nil
			}
			n, err := s.remind(ctx, env, System)
			res.RemindersQueued += n
			return err
		})
		if err != nil {
			return res, fmt.Errorf("sweep: remind %s: %w", e.ID, err)
		}
	}
	n, err := s.SweepOrphans(ctx)
	res.OrphansDeleted = n
	return res, err
}
