// Package idp is the signers' identity providers: the OpenID Connect
// providers the operator configures by name (VELLUM_OIDC_PROVIDERS) and a
// recipient may be required to log in with before signing. It runs the
// authorization code flow with PKCE (RFC 7636) and verifies what comes back
// (the ID token's signature, issuer, audience, expiry and nonce; the
// userinfo subject), and says who the provider vouched for. Discovery, keys,
// the token exchange and userinfo go through the HTTP client it is given:
// in the application the outbound guard, with the issuers' hosts allowed by
// name as the operator's own endpoints.
package idp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Provider is one configured OpenID Connect provider.
type Provider struct {
	// Name is how envelopes and sessions refer to it (auth.provider,
	// Signicat's identityProviders[].idpName).
	Name string
	// Issuer is the provider's issuer URL; discovery reads
	// Issuer/.well-known/openid-configuration.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes requested besides openid (default profile).
	Scopes []string
	// NationalIDClaim names the claim (of the ID token, else of userinfo)
	// carrying the national identification number; empty: the provider
	// supplies none and recipients of it cannot require one.
	NationalIDClaim string
}

// Identity is whom a provider vouched for.
type Identity struct {
	Provider   string    `json:"provider"`
	Issuer     string    `json:"issuer"`
	Subject    string    `json:"subject"`
	Name       string    `json:"name,omitempty"`
	Email      string    `json:"email,omitempty"`
	NationalID string    `json:"nationalIdentificationNumber,omitempty"`
	AuthTime   time.Time `json:"authTime"`
}

// Errors.
var (
	// ErrUnknownProvider means no provider of that name is configured.
	ErrUnknownProvider = errors.New("unknown identity provider")
	// ErrUnavailable means the provider could not be reached or answered
	// nonsense (discovery, keys, token endpoint).
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrRejected means the provider's answer does not prove the login:
	// an error from the provider, a bad ID token, a wrong nonce.
	ErrRejected = errors.New("identity provider login not accepted")
)

// Registry holds the configured providers and runs their flows.
type Registry struct {
	providers   map[string]*remote
	names       []string
	redirectURL string
	client      *http.Client
}

// remote is a provider with its discovery document, fetched on first use
// (a provider that is down at start must not stop Vellum) and kept.
type remote struct {
	Provider
	mu       sync.Mutex
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// New returns a registry of providers whose logins come back to
// redirectURL (the one callback URL registered at every provider), making
// every request with client.
func New(providers []Provider, redirectURL string, client *http.Client) (*Registry, error) {
	r := &Registry{providers: map[string]*remote{}, redirectURL: redirectURL, client: client}
	for _, p := range providers {
		if p.Name == "" || p.Issuer == "" || p.ClientID == "" {
			return nil, fmt.Errorf("idp: provider %q needs a name, an issuer and a client id", p.Name)
		}
		if _, dup := r.providers[p.Name]; dup {
			return nil, fmt.Errorf("idp: provider %q is configured twice", p.Name)
		}
		r.providers[p.Name] = &remote{Provider: p}
		r.names = append(r.names, p.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Names lists the configured providers, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Get returns the provider called name.
func (r *Registry) Get(name string) (Provider, bool) {
	if r == nil {
		return Provider{}, false
	}
	p, ok := r.providers[name]
	if !ok {
		return Provider{}, false
	}
	return p.Provider, true
}

// UnknownError explains an unknown provider name by listing the known ones.
func (r *Registry) UnknownError(name string) error {
	if len(r.Names()) == 0 {
		return fmt.Errorf("%w %q: this deployment configures no identity provider (VELLUM_OIDC_PROVIDERS)", ErrUnknownProvider, name)
	}
	return fmt.Errorf("%w %q: configured are %s", ErrUnknownProvider, name, strings.Join(r.Names(), ", "))
}

// Flow is one login's secrets: the state that names it in the callback,
// the nonce bound into the ID token and the PKCE verifier. The caller
// derives them (they need not be stored) and keeps state's hash.
type Flow struct {
	State, Nonce, Verifier string
}

func (r *Registry) ctx(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, r.client)
	return context.WithValue(ctx, oauth2.HTTPClient, r.client)
}

// discover returns the provider's discovery document, fetching it the
// first time (and again after a failure).
func (r *Registry) discover(ctx context.Context, name string) (*remote, error) {
	if r == nil { // no provider configured (any more): recipients naming one cannot log in
		return nil, r.UnknownError(name)
	}
	p, ok := r.providers[name]
	if !ok {
		return nil, r.UnknownError(name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oidc == nil {
		dctx, cancel := context.WithTimeout(r.ctx(ctx), 10*time.Second)
		defer cancel()
		op, err := oidc.NewProvider(dctx, p.Issuer)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: discovery at %s: %v", ErrUnavailable, name, p.Issuer, err)
		}
		p.oidc = op
		// Issuer, audience (our client id), expiry and signature; the nonce
		// is checked in Exchange.
		p.verifier = op.Verifier(&oidc.Config{ClientID: p.ClientID})
	}
	return p, nil
}

func (r *Registry) oauth(p *remote) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range p.Scopes {
		if s != oidc.ScopeOpenID && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(scopes) == 1 {
		scopes = append(scopes, "profile")
	}
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: p.oidc.Endpoint(),
		RedirectURL: r.redirectURL, Scopes: scopes}
}

// AuthCodeURL is where to send the signer's browser to log in with the
// provider called name.
func (r *Registry) AuthCodeURL(ctx context.Context, name string, f Flow) (string, error) {
	p, err := r.discover(ctx, name)
	if err != nil {
		return "", err
	}
	return r.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), nil
}

// Exchange redeems the callback's code and returns the verified identity.
func (r *Registry) Exchange(ctx context.Context, name, code string, f Flow) (*Identity, error) {
	p, err := r.discover(ctx, name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.ctx(ctx), 15*time.Second)
	defer cancel()
	tok, err := r.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, fmt.Errorf("%w: %s refused the code: %s", ErrRejected, name, oauthReason(re))
		}
		return nil, fmt.Errorf("%w: %s token endpoint: %v", ErrUnavailable, name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s returned no ID token", ErrRejected, name)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s ID token: %v", ErrRejected, name, err)
	}
	if idt.Nonce != f.Nonce {
		return nil, fmt.Errorf("%w: %s ID token: nonce does not match this login", ErrRejected, name)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %s ID token: %v", ErrRejected, name, err)
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %s ID token claims: %v", ErrRejected, name, err)
	}
	// Providers put profile claims in userinfo rather than the ID token
	// unless asked otherwise; read it when something we use is missing.
	if missing(claims, "name", p.NationalIDClaim) && p.oidc.UserInfoEndpoint() != "" {
		ui, err := p.oidc.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, fmt.Errorf("%w: %s userinfo: %v", ErrUnavailable, name, err)
		}
		// OpenID Connect Core 5.3.2: userinfo about another subject must
		// not be used.
		if ui.Subject != idt.Subject {
			return nil, fmt.Errorf("%w: %s userinfo is about another subject", ErrRejected, name)
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, fmt.Errorf("%w: %s userinfo claims: %v", ErrRejected, name, err)
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	id := &Identity{Provider: name, Issuer: idt.Issuer, Subject: idt.Subject, AuthTime: idt.IssuedAt.UTC()}
	id.Name, _ = claims["name"].(string)
	id.Email, _ = claims["email"].(string)
	if p.NationalIDClaim != "" {
		id.NationalID = claimString(claims[p.NationalIDClaim])
	}
	return id, nil
}

func missing(claims map[string]any, names ...string) bool {
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, ok := claims[n]; !ok {
			return true
		}
	}
	return false
}

// claimString renders a string or numeric claim (some national identifiers
// arrive as JSON numbers).
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprintf("%.0f", x)
	}
	return ""
}

func oauthReason(re *oauth2.RetrieveError) string {
	if re.ErrorCode != "" {
		return strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
	}
	return re.Response.Status
}

// DerivedVerifier turns 32 secret bytes into a PKCE code verifier
// (43 base64url characters, RFC 7636 4.1).
func DerivedVerifier(secret [sha256.Size]byte) string {
	return base64.RawURLEncoding.EncodeToString(secret[:])
}
