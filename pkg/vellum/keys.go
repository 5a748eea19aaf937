package vellum

import (
	"context"
	"iter"
	"net/http"
	"time"
)

// Key is an API key, without its secret.
type Key struct {
	ID string `json:"id"`
	// Name is the caller's label for the key.
	Name string `json:"name"`
	// Prefix is the start of the secret (sk_test_… or sk_live_…).
	Prefix string `json:"prefix"`
	// Environment is "test" or "live".
	Environment string     `json:"environment"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
	// Roles are the key's RemSig roles (USER, SIGNER, MANAGER).
	Roles []string `json:"roles"`
}

// CreatedKey is a new key with its secret, shown only once.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
	// SecretWithheld is true, and Secret empty, when the answer is an
	// Idempotency-Key replay: secrets are never stored for replay, so a
	// caller that lost the first answer must revoke or rotate.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

// KeyRequest creates a key in the caller's environment.
type KeyRequest struct {
	Name string `json:"name,omitempty"`
	// Roles are RemSig's roles for the key; none grants all three.
	Roles []string `json:"roles,omitempty"`
	// Environment must be the caller's own (the default).
	Environment string `json:"environment,omitempty"`
}

// KeyService is the /api/v1/keys resource.
type KeyService struct{ c *Client }

// Create creates a key and returns it with its secret.
func (s *KeyService) Create(ctx context.Context, r *KeyRequest) (*CreatedKey, error) {
	var k CreatedKey
	if err := s.c.sendJSON(ctx, http.MethodPost, "/api/v1/keys", r, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// List walks the unrevoked keys.
func (s *KeyService) List(ctx context.Context, p *ListParams) iter.Seq2[Key, error] {
	return list[Key](ctx, s.c, "/api/v1/keys", p.values())
}

// Revoke revokes a key, effective on the next request.
func (s *KeyService) Revoke(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/keys/%s", id), nil, nil)
}
