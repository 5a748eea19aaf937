package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/listing"
)

// Scope is the tenant boundary of every object: one account, one
// environment. A key sees exactly its own scope.
type Scope struct {
	AccountID   string
	Environment Environment
}

// Scope returns the scope the key acts in.
func (k *Key) Scope() Scope { return Scope{AccountID: k.AccountID, Environment: k.Environment} }

// ErrEnvironmentMismatch refuses to manage a key of another environment: a
// test key must not mint or revoke live keys.
var ErrEnvironmentMismatch = errors.New("a key can only manage keys of its own environment")

// MaxKeyNameLen bounds a key's name.
const MaxKeyNameLen = 255

// lastUsedGranularity limits last_used_at writes to one per key per minute,
// so authentication stays a read on the hot path.
const lastUsedGranularity = time.Minute

var keyColumns = map[string]string{"createdAt": "created_at", "name": "name", "lastUsedAt": "last_used_at"}

// KeySortFields are the fields keys can be sorted by.
var KeySortFields = []string{"createdAt", "name", "lastUsedAt"}

// CreateKeyIn creates a key in scope, on behalf of a key of that scope,
// with roles (none: all of them).
func (s *Service) CreateKeyIn(ctx context.Context, scope Scope, name string, roles []Role) (*Key, string, error) {
	secret, err := newSecret(scope.Environment)
	if err != nil {
		return nil, "", fmt.Errorf("generate key: %w", err)
	}
	k, err := s.storeKey(ctx, scope.AccountID, scope.Environment, strings.TrimSpace(name), secret, joinRoles(roles))
	return k, secret, err
}

// AuthenticateBasic checks HTTP Basic credentials as RemSig clients send
// them: the key's id as username and its secret as password, or the secret
// as username with an empty password.
func (s *Service) AuthenticateBasic(ctx context.Context, username, password string) (*Key, error) {
	if password == "" {
		return s.Authenticate(ctx, username)
	}
	k, err := s.Authenticate(ctx, password)
	if err != nil {
		return nil, err
	}
	if k.ID != username {
		return nil, ErrInvalidKey
	}
	return k, nil
}

// ListKeys returns the unrevoked keys of scope.
func (s *Service) ListKeys(ctx context.Context, scope Scope, q listing.Query) (listing.Page[Key], error) {
	base := s.db.Conn(ctx).Model(&Key{}).
		Where("account_id = ? AND environment = ? AND revoked_at IS NULL", scope.AccountID, scope.Environment)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	var page listing.Page[Key]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count keys: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(keyColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list keys: %w", err)
	}
	return page, nil
}

// RevokeKey revokes the key id of scope. Authentication reads the database
// on every request, so the key stops working on the very next request on
// every instance. A revoked or unknown key, or one of another scope, is
// ErrNotFound.
func (s *Service) RevokeKey(ctx context.Context, scope Scope, id string) error {
	res := s.db.Conn(ctx).Model(&Key{}).
		Where("id = ? AND account_id = ? AND environment = ? AND revoked_at IS NULL", id, scope.AccountID, scope.Environment).
		Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return fmt.Errorf("revoke key %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("key %s: %w", id, ErrNotFound)
	}
	return nil
}

// touch records that k was used, at most once per lastUsedGranularity.
func (s *Service) touch(ctx context.Context, k *Key) error {
	now := time.Now().UTC()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < lastUsedGranularity {
		return nil
	}
	err := s.db.Conn(ctx).Model(&Key{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", k.ID, now.Add(-lastUsedGranularity)).
		Update("last_used_at", now).Error
	if err != nil {
		return fmt.Errorf("record key use: %w", err)
	}
	k.LastUsedAt = &now
	return nil
}
