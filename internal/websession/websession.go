// Package websession keeps the cookie sessions of people logged in to a
// web surface (the certificate portal): opaque random tokens whose hashes
// live in the database with an absolute lifetime and an idle timeout, and
// an anti-forgery token bound to each session.
package websession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
)

// Defaults.
const (
	DefaultLifetime    = 12 * time.Hour
	DefaultIdleTimeout = 30 * time.Minute
)

// Errors.
var (
	// ErrNoSession: the token is unknown, ended, expired or idle too long.
	ErrNoSession = errors.New("not logged in, or the session has ended")
	// ErrXSRFMissing and ErrXSRFMismatch refuse a state-changing request
	// without the session's anti-forgery token.
	ErrXSRFMissing  = errors.New("the anti-forgery token is missing: send the XSRF-TOKEN cookie's value in the X-XSRF-TOKEN header")
	ErrXSRFMismatch = errors.New("the anti-forgery token does not belong to this session")
)

// Config tunes sessions.
type Config struct {
	// Lifetime ends a session this long after login, however active.
	Lifetime time.Duration
	// IdleTimeout ends a session this long after its last request.
	IdleTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Session is a live session.
type Session struct {
	TokenHash  string `gorm:"primaryKey"`
	Subject    string
	XSRFHash   string `gorm:"column:xsrf_hash"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// TableName maps Session to its table.
func (Session) TableName() string { return "web_sessions" }

// Service starts, resumes and ends sessions.
type Service struct {
	db  *db.DB
	cfg Config
}

// New returns the session service.
func New(database *db.DB, cfg Config) *Service {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: database, cfg: cfg}
}

// IdleTimeout is how long a session survives without requests.
func (s *Service) IdleTimeout() time.Duration { return s.cfg.IdleTimeout }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Start opens a session for subject and returns its token and its
// anti-forgery token; only their hashes are stored. Expired sessions are
// swept on the way.
func (s *Service) Start(ctx context.Context, subject string) (token, xsrf string, sess *Session, err error) {
	if token, err = newToken(); err != nil {
		return "", "", nil, err
	}
	if xsrf, err = newToken(); err != nil {
		return "", "", nil, err
	}
	now := s.now()
	sess = &Session{TokenHash: hash(token), Subject: subject, XSRFHash: hash(xsrf),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.Lifetime)}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Where("expires_at <= ? OR last_seen_at <= ?", now, now.Add(-s.cfg.IdleTimeout)).
			Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		return s.db.Conn(ctx).Create(sess).Error
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("start session: %w", err)
	}
	return token, xsrf, sess, nil
}

// touchEvery limits last-seen writes: a session's idle clock restarts at
// most once a minute (or a tenth of the idle timeout, if shorter).
func (s *Service) touchEvery() time.Duration { return min(time.Minute, s.cfg.IdleTimeout/10) }

// Resume returns the live session of token and restarts its idle clock.
func (s *Service) Resume(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNoSession
	}
	var sess Session
	err := s.db.Conn(ctx).Where("token_hash = ?", hash(token)).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("resume session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.IdleTimeout)) {
		// Ended: gone for good, even if the clock were to go back.
		if err := s.db.Conn(ctx).Where("token_hash = ?", sess.TokenHash).Delete(&Session{}).Error; err != nil {
			return nil, fmt.Errorf("end expired session: %w", err)
		}
		return nil, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) >= s.touchEvery() {
		if err := s.db.Conn(ctx).Model(&Session{}).Where("token_hash = ?", sess.TokenHash).
			Update("last_seen_at", now).Error; err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return &sess, nil
}

// CheckXSRF accepts presented only if it is sess's anti-forgery token.
func (s *Service) CheckXSRF(sess *Session, presented string) error {
	if presented == "" {
		return ErrXSRFMissing
	}
	if subtle.ConstantTimeCompare([]byte(hash(presented)), []byte(sess.XSRFHash)) != 1 {
		return ErrXSRFMismatch
	}
	return nil
}

// End ends the session of token; ending an unknown one is no error.
func (s *Service) End(ctx context.Context, token string) error {
	if err := s.db.Conn(ctx).Where("token_hash = ?", hash(token)).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
