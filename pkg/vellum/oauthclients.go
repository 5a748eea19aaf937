package vellum

import (
	"context"
	"iter"
	"net/http"
	"time"
)

// OAuthClient is an OAuth 2.0 client, without its secret. Its client id
// and secret buy access tokens at /auth/open/connect/token (Signicat's
// token endpoint) for the /sign/ routes.
type OAuthClient struct {
	ID string `json:"id"`
	// ClientID is what the client sends as client_id.
	ClientID string `json:"clientId"`
	// Name is the caller's label for the client.
	Name string `json:"name"`
	// Environment is "test" or "live".
	Environment string     `json:"environment"`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
}

// CreatedOAuthClient is a new client with its secret, shown only once.
type CreatedOAuthClient struct {
	OAuthClient
	ClientSecret string `json:"clientSecret"`
	// SecretWithheld is true, and ClientSecret empty, when the answer is an
	// Idempotency-Key replay.
	SecretWithheld bool `json:"secretWithheld,omitempty"`
}

// OAuthClientRequest creates a client in the caller's environment.
type OAuthClientRequest struct {
	Name string `json:"name,omitempty"`
}

// OAuthClientService is the /api/v1/oauth-clients resource.
type OAuthClientService struct{ c *Client }

// Create creates a client and returns it with its secret.
func (s *OAuthClientService) Create(ctx context.Context, r *OAuthClientRequest) (*CreatedOAuthClient, error) {
	var k CreatedOAuthClient
	if err := s.c.sendJSON(ctx, http.MethodPost, "/api/v1/oauth-clients", r, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// List walks the unrevoked clients.
func (s *OAuthClientService) List(ctx context.Context, p *ListParams) iter.Seq2[OAuthClient, error] {
	return list[OAuthClient](ctx, s.c, "/api/v1/oauth-clients", p.values())
}

// Revoke revokes a client and every token issued to it, effective on the
// next request.
func (s *OAuthClientService) Revoke(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/oauth-clients/%s", id), nil, nil)
}
