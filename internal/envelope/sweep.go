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
	var ids []string
	if err := s.DB.Conn(ctx).Model(&Envelope{}).Where("status = ? AND expires_at IS NOT NULL AND expires_at <= ?", StatusSent, now).
		Limit(1000).Pluck("id", &ids).Error; err != nil {
		return res, fmt.Errorf("sweep: find expired envelopes: %w", err)
	}
	for _, id := range ids {
		err := s.DB.WithTx(ctx, func(ctx context.Context) error {
			env, err := s.lockByID(ctx, id)
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
					if err := s.DB.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
						return fmt.Errorf("expire recipient %s: %w", r.ID, err)
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

	var sessions []Session
	if err := s.DB.Conn(ctx).Where("status IN ? AND expires_at <= ?", []SessionStatus{SessionCreated, SessionNotified, SessionOpened}, now).
		Limit(1000).Find(&sessions).Error; err != nil {
		return res, fmt.Errorf("sweep: find expired sessions: %w", err)
	}
	for _, ss := range sessions {
		err := s.DB.WithTx(ctx, func(ctx context.Context) error {
			env, err := s.lockByID(ctx, ss.EnvelopeID)
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
			if err := s.DB.Conn(ctx).Model(cur).Updates(map[string]any{"status": SessionExpired, "finished_at": now}).Error; err != nil {
				return fmt.Errorf("expire session %s: %w", cur.ID, err)
			}
			r.Status = RecipientExpired
			if err := s.DB.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
				return fmt.Errorf("expire recipient %s: %w", r.ID, err)
			}
			res.SessionsExpired++
			return s.record(ctx, env, "recipient.session_expired", System, r.ID, nil)
		})
		if err != nil {
			return res, fmt.Errorf("sweep: expire session %s: %w", ss.ID, err)
		}
	}

	var due []Envelope
	if err := s.DB.Conn(ctx).Where("status = ? AND reminder_interval_hours > 0", StatusSent).Limit(5000).Find(&due).Error; err != nil {
		return res, fmt.Errorf("sweep: find reminders: %w", err)
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
			env, err := s.lockByID(ctx, e.ID)
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
