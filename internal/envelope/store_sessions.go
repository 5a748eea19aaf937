package envelope

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// createSession stores a new signing session.
func (st store) createSession(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Create(ss).Error; err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// sessionByToken finds the session whose token hashes to tokenHash;
// ErrTokenUnknown if none does.
func (st store) sessionByToken(ctx context.Context, tokenHash string) (*Session, error) {
	var ss Session
	if err := st.db.Conn(ctx).Where("token_hash = ?", tokenHash).Take(&ss).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrTokenUnknown
		}
		return nil, fmt.Errorf("find session: %w", err)
	}
	return &ss, nil
}

// tokenKnown reports whether a session's token hashes to tokenHash.
func (st store) tokenKnown(ctx context.Context, tokenHash string) (bool, error) {
	var n int64
	if err := st.db.Conn(ctx).Model(&Session{}).Where("token_hash = ?", tokenHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("find session: %w", err)
	}
	return n > 0, nil
}

// expiredSessions lists open sessions whose lifetime ran out at now.
func (st store) expiredSessions(ctx context.Context, now time.Time) ([]Session, error) {
	var sessions []Session
	if err := st.db.Conn(ctx).Where("status IN ? AND expires_at <= ?", []SessionStatus{SessionCreated, SessionNotified, SessionOpened}, now).
		Limit(1000).Find(&sessions).Error; err != nil {
		return nil, fmt.Errorf("find expired sessions: %w", err)
	}
	return sessions, nil
}

// setSessionStatus writes ss's status.
func (st store) setSessionStatus(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Update("status", ss.Status).Error; err != nil {
		return fmt.Errorf("set session %s %s: %w", ss.ID, ss.Status, err)
	}
	return nil
}

// setSessionExpiry writes when ss stops working.
func (st store) setSessionExpiry(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Update("expires_at", ss.ExpiresAt).Error; err != nil {
		return fmt.Errorf("open session %s: %w", ss.ID, err)
	}
	return nil
}

// extendSession writes ss's status and expiry.
func (st store) extendSession(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "expires_at": ss.ExpiresAt}).Error; err != nil {
		return fmt.Errorf("extend session %s: %w", ss.ID, err)
	}
	return nil
}

// finishSession writes ss's final status and when it was reached
// (FinishedAt is set).
func (st store) finishSession(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "finished_at": *ss.FinishedAt}).Error; err != nil {
		return fmt.Errorf("finish session %s: %w", ss.ID, err)
	}
	return nil
}

// markSessionNotified writes ss's status and when its invitation went out
// (NotifiedAt is set).
func (st store) markSessionNotified(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "notified_at": *ss.NotifiedAt}).Error; err != nil {
		return fmt.Errorf("mark session notified: %w", err)
	}
	return nil
}

// openSession writes that ss's page was opened (OpenedAt is set).
func (st store) openSession(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"status": ss.Status, "opened_at": *ss.OpenedAt}).Error; err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	return nil
}

// setToken writes ss's token generation, token hash and expiry.
func (st store) setToken(ctx context.Context, ss *Session) error {
	err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{
		"token_generation": ss.TokenGeneration, "token_hash": ss.TokenHash, "expires_at": ss.ExpiresAt,
	}).Error
	if err != nil {
		return fmt.Errorf("renew signing link %s: %w", ss.ID, err)
	}
	return nil
}

// storeOTP writes ss's one-time-code state: nonce, expiry, attempts, codes sent.
func (st store) storeOTP(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"otp_nonce": ss.OTPNonce,
		"otp_expires_at": ss.OTPExpiresAt, "otp_attempts": ss.OTPAttempts, "otp_sent": ss.OTPSent}).Error; err != nil {
		return fmt.Errorf("store otp: %w", err)
	}
	return nil
}

// useOTP forgets ss's code nonce, so the code works once.
func (st store) useOTP(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Update("otp_nonce", "").Error; err != nil {
		return fmt.Errorf("use otp of %s: %w", ss.ID, err)
	}
	return nil
}

// setAttempts writes ss's wrong-attempt count and lockout state.
func (st store) setAttempts(ctx context.Context, ss *Session) error {
	if err := st.db.Conn(ctx).Model(ss).Updates(map[string]any{"otp_attempts": ss.OTPAttempts,
		"auth_lockouts": ss.AuthLockouts, "auth_locked_until": ss.AuthLockedUntil}).Error; err != nil {
		return fmt.Errorf("count attempt: %w", err)
	}
	return nil
}

// ownerOfToken names the account, envelope and recipient of the session
// whose token hashes to tokenHash; ErrTokenUnknown if none does.
func (st store) ownerOfToken(ctx context.Context, tokenHash string) (TokenOwner, error) {
	var o TokenOwner
	err := st.db.Conn(ctx).Table("signing_sessions AS s").
		Select("e.account_id AS account_id, s.envelope_id AS envelope_id, s.recipient_id AS recipient_id, "+
			"e.language AS language, r.locale AS locale").
		Joins("JOIN envelopes e ON e.id = s.envelope_id").
		Joins("JOIN envelope_recipients r ON r.id = s.recipient_id").
		Where("s.token_hash = ?", tokenHash).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return TokenOwner{}, ErrTokenUnknown
	}
	if err != nil {
		return TokenOwner{}, fmt.Errorf("find owner of signing link: %w", err)
	}
	return o, nil
}
