// Package account holds accounts and their API keys. A key belongs to one
// environment (test or live); only its SHA-256 is stored, so a leaked
// database reveals no usable key.
package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
)

// Environment separates test data from live data.
type Environment string

// Environments.
const (
	Test Environment = "test"
	Live Environment = "live"
)

// ParseEnvironment accepts "test" or "live".
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Test, Live:
		return Environment(s), nil
	}
	return "", fmt.Errorf("environment %q: must be test or live", s)
}

// Errors.
var (
	ErrNotFound   = errors.New("not found")
	ErrInvalidKey = errors.New("invalid or revoked API key")
)

// Account is a customer of the platform.
type Account struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Email     string
	CreatedAt time.Time
	// EmbedOrigins are the origins allowed to frame the account's signing
	// pages ("https://app.example.com"); none means no framing at all.
	EmbedOrigins []string `gorm:"serializer:json"`
	// Version counts updates, for the account's ETag and If-Match.
	Version int
}

// Key is an API key's public record.
type Key struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Name        string
	Environment Environment
	Prefix      string
	SecretHash  string
	// Roles are RemSig's roles, comma-separated; empty means all.
	Roles      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName maps Key to its table.
func (Key) TableName() string { return "api_keys" }

// Service manages accounts and keys.
type Service struct{ db *db.DB }

// NewService returns the account service.
func NewService(database *db.DB) *Service { return &Service{db: database} }

// CreateAccount creates an account.
func (s *Service) CreateAccount(ctx context.Context, name, email string) (*Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errors.New("account name must not be empty")
	}
	a := &Account{ID: ident.New("acct"), Name: name, Email: strings.TrimSpace(email), CreatedAt: time.Now().UTC(),
		EmbedOrigins: []string{}, Version: 1}
	if err := s.db.Conn(ctx).Create(a).Error; err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// GetAccount returns an account by id.
func (s *Service) GetAccount(ctx context.Context, id string) (*Account, error) {
	var a Account
	if err := s.db.Conn(ctx).Where("id = ?", id).Take(&a).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("account %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get account %s: %w", id, err)
	}
	return &a, nil
}

// GetKey returns an API key's public record by id, revoked or not, for
// records that name who acted (the audit trail).
func (s *Service) GetKey(ctx context.Context, id string) (*Key, error) {
	var k Key
	if err := s.db.Conn(ctx).Where("id = ?", id).Take(&k).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("API key %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get API key %s: %w", id, err)
	}
	return &k, nil
}

// FirstAccount returns the oldest account, or ErrNotFound.
func (s *Service) FirstAccount(ctx context.Context) (*Account, error) {
	var a Account
	if err := s.db.Conn(ctx).Order("created_at, id").Take(&a).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("first account: %w", err)
	}
	return &a, nil
}

const secretAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSecret returns sk_<env>_ and 32 base62 characters (about 190 bits).
func newSecret(env Environment) (string, error) {
	r, err := randomBase62(32)
	if err != nil {
		return "", err
	}
	return "sk_" + string(env) + "_" + r, nil
}

// HashSecret is the stored form of a key secret. The secret has ≥128 random
// bits, so a fast hash is enough: there is nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// environmentOf reads the environment from a secret's prefix.
func environmentOf(secret string) (Environment, bool) {
	switch {
	case strings.HasPrefix(secret, "sk_test_"):
		return Test, true
	case strings.HasPrefix(secret, "sk_live_"):
		return Live, true
	}
	return "", false
}

// CreateKey makes a new key and returns it with its secret, which is never
// retrievable again.
func (s *Service) CreateKey(ctx context.Context, accountID string, env Environment, name string) (*Key, string, error) {
	secret, err := newSecret(env)
	if err != nil {
		return nil, "", fmt.Errorf("generate key: %w", err)
	}
	k, err := s.storeKey(ctx, accountID, env, name, secret, "")
	return k, secret, err
}

// ImportKey stores a caller-chosen secret (for `vellum dev` with
// VELLUM_DEV_API_KEY). Importing a secret already stored returns its key.
func (s *Service) ImportKey(ctx context.Context, accountID, name, secret string) (*Key, error) {
	env, ok := environmentOf(secret)
	if !ok || len(secret) < len("sk_test_")+16 {
		return nil, errors.New("key must be sk_test_ or sk_live_ followed by at least 16 characters")
	}
	var existing Key
	err := s.db.Conn(ctx).Where("secret_hash = ?", HashSecret(secret)).Take(&existing).Error
	if err == nil {
		if existing.AccountID != accountID {
			return nil, errors.New("that key belongs to another account")
		}
		if existing.RevokedAt != nil {
			return nil, errors.New("that key was revoked")
		}
		return &existing, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("look up key: %w", err)
	}
	return s.storeKey(ctx, accountID, env, name, secret, "")
}

func (s *Service) storeKey(ctx context.Context, accountID string, env Environment, name, secret, roles string) (*Key, error) {
	if _, err := s.GetAccount(ctx, accountID); err != nil {
		return nil, err
	}
	k := &Key{
		ID: ident.New("key"), AccountID: accountID, Name: name, Environment: env,
		Prefix: secret[:len("sk_test_")+4], SecretHash: HashSecret(secret), Roles: roles, CreatedAt: time.Now().UTC(),
	}
	if err := s.db.Conn(ctx).Create(k).Error; err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	return k, nil
}

// Authenticate returns the live (unrevoked) key for secret. It reads the
// database every time, so a revocation is effective on the next request on
// every instance.
func (s *Service) Authenticate(ctx context.Context, secret string) (*Key, error) {
	if _, ok := environmentOf(secret); !ok {
		return nil, ErrInvalidKey
	}
	var k Key
	err := s.db.Conn(ctx).Where("secret_hash = ? AND revoked_at IS NULL", HashSecret(secret)).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidKey
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	// A failed last-used write must not refuse a valid key; the next
	// request retries it.
	_ = s.touch(ctx, &k)
	return &k, nil
}
