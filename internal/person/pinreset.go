package person

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
)

// PINResetLifetime is how long a reset link works.
const PINResetLifetime = 24 * time.Hour

// Errors of reset links.
var (
	ErrPINResetUnknown = errors.New("the password reset link is unknown or was already used")
	ErrPINResetExpired = errors.New("the password reset link has expired")
)

// PINReset is a one-time link to set a certificate's PIN without the old
// one; where the person goes afterwards rides along.
type PINReset struct {
	TokenHash       string `gorm:"primaryKey"`
	AccountID       string
	Environment     account.Environment
	CertificateID   string
	RedirectSuccess string
	RedirectCancel  string
	RedirectError   string
	RedirectExpired string
	ExpiresAt       time.Time
	UsedAt          *time.Time
	CreatedAt       time.Time
}

// TableName maps PINReset to its table.
func (PINReset) TableName() string { return "pin_resets" }

func resetHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewPINReset creates a reset link for certificate certID of scope and
// returns its token (shown once; only its hash is stored).
func (s *Service) NewPINReset(ctx context.Context, scope account.Scope, certID string, r PINReset) (string, *PINReset, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token := hex.EncodeToString(b)
	out, err := s.NewPINResetWithToken(ctx, scope, certID, token, r)
	if err != nil {
		return "", nil, err
	}
	return token, out, nil
}

// NewPINResetWithToken creates a reset link whose token the caller chose
// and keeps (RemSig shows a certificate request's link, keyed by the
// request's random uuid, before the certificate exists). The token must
// be at least 32 characters of the caller's randomness.
func (s *Service) NewPINResetWithToken(ctx context.Context, scope account.Scope, certID, token string, r PINReset) (*PINReset, error) {
	if len(token) < 32 {
		return nil, fmt.Errorf("a PIN reset token needs at least 32 characters, got %d", len(token))
	}
	c, err := s.getCertificate(ctx, scope, "", certID, false)
	if err != nil {
		return nil, err
	}
	if !c.HasKey() {
		return nil, fmt.Errorf("certificate %s: %w", certID, ErrNoKey)
	}
	now := s.now()
	r.TokenHash, r.AccountID, r.Environment, r.CertificateID = resetHash(token), scope.AccountID, scope.Environment, certID
	r.ExpiresAt, r.UsedAt, r.CreatedAt = now.Add(PINResetLifetime).Truncate(time.Millisecond), nil, now
	if err := s.db.Conn(ctx).Create(&r).Error; err != nil {
		return nil, fmt.Errorf("create PIN reset: %w", err)
	}
	return &r, nil
}

// GetPINReset returns the reset link of token and its certificate; an
// expired one is returned with ErrPINResetExpired.
func (s *Service) GetPINReset(ctx context.Context, token string) (*PINReset, *Certificate, error) {
	var r PINReset
	err := s.db.Conn(ctx).Where("token_hash = ? AND used_at IS NULL", resetHash(token)).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrPINResetUnknown
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get PIN reset: %w", err)
	}
	c, err := s.getCertificate(ctx, account.Scope{AccountID: r.AccountID, Environment: r.Environment}, "", r.CertificateID, false)
	if err != nil {
		return nil, nil, err
	}
	if !s.now().Before(r.ExpiresAt) {
		return &r, c, ErrPINResetExpired
	}
	return &r, c, nil
}

// CompletePINReset sets the new PIN through the link of token, once: the
// key stays, the lock lifts, the link is spent.
func (s *Service) CompletePINReset(ctx context.Context, token, newPIN string) (*PINReset, error) {
	if errs := checkPIN(nil, "password", newPIN); len(errs) > 0 {
		return nil, errs
	}
	var r PINReset
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		q := s.db.ForUpdate(s.db.Conn(ctx).Where("token_hash = ? AND used_at IS NULL", resetHash(token)), false)
		if err := q.Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrPINResetUnknown
			}
			return fmt.Errorf("PIN reset: %w", err)
		}
		now := s.now()
		if !now.Before(r.ExpiresAt) {
			return ErrPINResetExpired
		}
		if _, err := s.ResetPIN(ctx, account.Scope{AccountID: r.AccountID, Environment: r.Environment}, r.CertificateID, newPIN); err != nil {
			return err
		}
		r.UsedAt = &now
		return s.db.Conn(ctx).Model(&PINReset{}).Where("token_hash = ?", r.TokenHash).Update("used_at", now).Error
	})
	if err != nil {
		return &r, err
	}
	return &r, nil
}
