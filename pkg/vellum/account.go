package vellum

import (
	"context"
	"net/http"
	"time"
)

// Account is the caller's account and its settings.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"createdAt"`
	// EmbedOrigins may show the account's signing pages in an iframe
	// (canonical: lower case, no default port).
	EmbedOrigins []string `json:"embedOrigins"`
}

// AccountUpdate changes the account's settings.
type AccountUpdate struct {
	// EmbedOrigins replaces the origins allowed to frame the signing page:
	// https, or http for localhost; at most 20; empty for none.
	EmbedOrigins []string `json:"embedOrigins"`
}

// AccountService is the /api/v1/account resource.
type AccountService struct{ c *Client }

// Get returns the caller's account.
func (s *AccountService) Get(ctx context.Context) (*Account, error) {
	var a Account
	if err := s.c.sendJSON(ctx, http.MethodGet, "/api/v1/account", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Update applies u to the caller's account. A nil EmbedOrigins is sent as
// [] (no embedding), never as null.
func (s *AccountService) Update(ctx context.Context, u *AccountUpdate) (*Account, error) {
	body := AccountUpdate{EmbedOrigins: []string{}}
	if u != nil && u.EmbedOrigins != nil {
		body.EmbedOrigins = u.EmbedOrigins
	}
	var a Account
	if err := s.c.sendJSON(ctx, http.MethodPatch, "/api/v1/account", &body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}
