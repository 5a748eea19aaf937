package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/listing"
)

// OAuth 2.0 client credentials (RFC 6749 §4.4), for surfaces whose clients
// authenticate that way (Signicat's /auth/open/connect/token). A client
// belongs to one account and environment, exactly like an API key, and its
// secret is stored as a hash the same way.
//
// Access tokens are opaque random strings stored hashed with their expiry,
// not signed JWTs: every request looks the token up joined to its client,
// so revoking the client ends its tokens on the very next request on every
// instance, as revoking an API key does. A signed token would need that same
// database read to honour revocation, and would add a signing key to keep.

// Errors of client credentials.
var (
	// ErrInvalidClient means unknown client id, wrong secret or a revoked
	// client (RFC 6749 invalid_client; which of them is not told).
	ErrInvalidClient = errors.New("invalid client credentials")
	// ErrInvalidToken means an unknown, expired or revoked access token.
	ErrInvalidToken = errors.New("invalid or expired access token")
)

// AccessTokenTTL is how long an access token is valid.
const AccessTokenTTL = time.Hour

// tokenPrefix starts every access token, so a bearer credential tells at a
// glance (and without a database read) whether it is a token or an API key.
const tokenPrefix = "vat_"

// OAuthClient is an OAuth 2.0 client's public record.
type OAuthClient struct {
	ID          string `gorm:"primaryKey"`
	AccountID   string
	Environment Environment
	Name        string
	// ClientID is what the client sends as client_id.
	ClientID   string
	SecretHash string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName maps OAuthClient to its table.
func (OAuthClient) TableName() string { return "oauth_clients" }

// Scope returns the scope the client acts in.
func (c *OAuthClient) Scope() Scope { return Scope{AccountID: c.AccountID, Environment: c.Environment} }

// AccessToken is an issued token's record; only its hash is stored.
type AccessToken struct {
	TokenHash string `gorm:"primaryKey"`
	ClientID  string // the OAuthClient's ID
	Scope     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TableName maps AccessToken to its table.
func (AccessToken) TableName() string { return "oauth_access_tokens" }

// ClientSortFields are the fields OAuth clients can be sorted by.
var ClientSortFields = []string{"createdAt", "name", "lastUsedAt"}

// randomBase62 returns n characters of the key alphabet.
func randomBase62(n int) (string, error) {
	var b strings.Builder
	max := big.NewInt(int64(len(secretAlphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b.WriteByte(secretAlphabet[i.Int64()])
	}
	return b.String(), nil
}

// CreateClient makes an OAuth client in scope and returns it with its
// secret, which is never retrievable again.
func (s *Service) CreateClient(ctx context.Context, scope Scope, name string) (*OAuthClient, string, error) {
	if _, err := s.GetAccount(ctx, scope.AccountID); err != nil {
		return nil, "", err
	}
	pub, err := randomBase62(24)
	if err != nil {
		return nil, "", fmt.Errorf("generate client id: %w", err)
	}
	secret, err := randomBase62(48) // about 285 bits
	if err != nil {
		return nil, "", fmt.Errorf("generate client secret: %w", err)
	}
	c := &OAuthClient{
		ID: ident.New("occ"), AccountID: scope.AccountID, Environment: scope.Environment,
		Name: strings.TrimSpace(name), ClientID: "vellum-" + string(scope.Environment) + "-" + pub,
		SecretHash: HashSecret(secret), CreatedAt: time.Now().UTC(),
	}
	if err := s.db.Conn(ctx).Create(c).Error; err != nil {
		return nil, "", fmt.Errorf("create oauth client: %w", err)
	}
	return c, secret, nil
}

// ListClients returns the unrevoked OAuth clients of scope.
func (s *Service) ListClients(ctx context.Context, scope Scope, q listing.Query) (listing.Page[OAuthClient], error) {
	base := s.db.Conn(ctx).Model(&OAuthClient{}).
		Where("account_id = ? AND environment = ? AND revoked_at IS NULL", scope.AccountID, scope.Environment)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	var page listing.Page[OAuthClient]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count oauth clients: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(keyColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list oauth clients: %w", err)
	}
	return page, nil
}

// RevokeClient revokes the client id of scope and deletes its tokens, so
// neither the secret nor a token issued before works on the next request.
// A revoked or unknown client, or one of another scope, is ErrNotFound.
func (s *Service) RevokeClient(ctx context.Context, scope Scope, id string) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Model(&OAuthClient{}).
			Where("id = ? AND account_id = ? AND environment = ? AND revoked_at IS NULL", id, scope.AccountID, scope.Environment).
			Update("revoked_at", time.Now().UTC())
		if res.Error != nil {
			return fmt.Errorf("revoke oauth client %s: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("oauth client %s: %w", id, ErrNotFound)
		}
		if err := s.db.Conn(ctx).Where("client_id = ?", id).Delete(&AccessToken{}).Error; err != nil {
			return fmt.Errorf("delete tokens of oauth client %s: %w", id, err)
		}
		return nil
	})
}

// AuthenticateClient checks client credentials and returns the live client.
func (s *Service) AuthenticateClient(ctx context.Context, clientID, secret string) (*OAuthClient, error) {
	if clientID == "" || secret == "" {
		return nil, ErrInvalidClient
	}
	var c OAuthClient
	err := s.db.Conn(ctx).Where("client_id = ? AND revoked_at IS NULL", clientID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidClient
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate oauth client: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(c.SecretHash)) != 1 {
		return nil, ErrInvalidClient
	}
	return &c, nil
}

// IssueToken issues an access token to c for scope and returns it with its
// record. Expired tokens of the client are swept on the way, so the table
// holds at most the tokens of the last AccessTokenTTL.
func (s *Service) IssueToken(ctx context.Context, c *OAuthClient, scope string) (string, *AccessToken, error) {
	raw, err := randomBase62(43) // about 256 bits
	if err != nil {
		return "", nil, fmt.Errorf("generate access token: %w", err)
	}
	token := tokenPrefix + raw
	now := time.Now().UTC()
	t := &AccessToken{TokenHash: HashSecret(token), ClientID: c.ID, Scope: scope, CreatedAt: now, ExpiresAt: now.Add(AccessTokenTTL)}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Where("client_id = ? AND expires_at < ?", c.ID, now).Delete(&AccessToken{}).Error; err != nil {
			return fmt.Errorf("sweep expired tokens: %w", err)
		}
		if err := s.db.Conn(ctx).Create(t).Error; err != nil {
			return fmt.Errorf("record access token: %w", err)
		}
		return s.db.Conn(ctx).Model(&OAuthClient{}).Where("id = ?", c.ID).Update("last_used_at", now).Error
	})
	if err != nil {
		return "", nil, err
	}
	return token, t, nil
}

// IsAccessToken reports whether a bearer credential has the form of an
// access token (rather than an API key).
func IsAccessToken(bearer string) bool { return strings.HasPrefix(bearer, tokenPrefix) }

// AuthenticateToken returns the live client of an unexpired access token.
// It reads the database every time, so revoking the client is effective on
// the next request.
func (s *Service) AuthenticateToken(ctx context.Context, token string) (*OAuthClient, error) {
	if !IsAccessToken(token) {
		return nil, ErrInvalidToken
	}
	var c OAuthClient
	err := s.db.Conn(ctx).Model(&OAuthClient{}).
		Joins("JOIN oauth_access_tokens t ON t.client_id = oauth_clients.id").
		Where("t.token_hash = ? AND t.expires_at > ? AND oauth_clients.revoked_at IS NULL", HashSecret(token), time.Now().UTC()).
		Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate access token: %w", err)
	}
	return &c, nil
}
