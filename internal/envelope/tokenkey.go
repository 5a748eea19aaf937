package envelope

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vellum-sign/vellum/internal/db"
)

// TokenKey returns the key that derives signing tokens and one-time codes.
// A configured secret (hex or base64, ≥ 32 bytes) is used as given; without
// one, a random key is generated once and kept in the database so every
// instance shares it. The configured form is stronger: a database dump
// alone then reveals no usable link.
func TokenKey(ctx context.Context, database *db.DB, configured string) ([]byte, bool, error) {
	if configured = strings.TrimSpace(configured); configured != "" {
		key, err := hex.DecodeString(configured)
		if err != nil {
			if key, err = base64.StdEncoding.DecodeString(configured); err != nil {
				key = []byte(configured)
			}
		}
		if len(key) < 32 {
			return nil, false, fmt.Errorf("the token secret must be at least 32 bytes (64 hex digits)")
		}
		return key, false, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, false, fmt.Errorf("generate token key: %w", err)
	}
	value, err := store{db: database}.platformSecret(ctx, "signing-token-key", hex.EncodeToString(fresh))
	if err != nil {
		return nil, false, fmt.Errorf("token key: %w", err)
	}
	key, err := hex.DecodeString(value)
	if err != nil || len(key) < 32 {
		return nil, false, fmt.Errorf("stored token key is malformed")
	}
	return key, true, nil
}
