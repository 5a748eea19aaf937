//go:build cgo

package pki

import (
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11AEAD is AES-GCM with a secret key that never leaves a PKCS #11
// token (the key-encryption key of persons' private keys). Close it when
// the process stops.
type PKCS11AEAD struct {
	cipher.AEAD
	ctx *crypto11.Context
}

// OpenPKCS11AEAD logs into the token and finds the AES key cfg.KeyLabel.
func OpenPKCS11AEAD(cfg PKCS11Config) (*PKCS11AEAD, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" || cfg.KeyLabel == "" {
		return nil, errors.New("pki: PKCS#11 module, token label and key label are required")
	}
	// 12-byte nonces are GCM's standard; crypto11 defaults to 16.
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN, GCMIVLength: 12})
	if err != nil {
		return nil, fmt.Errorf("pki: open PKCS#11 token %q via %s: %w", cfg.TokenLabel, cfg.Module, err)
	}
	key, err := ctx.FindKey(nil, []byte(cfg.KeyLabel))
	if err == nil && key == nil {
		err = errors.New("no such secret key")
	}
	var aead cipher.AEAD
	if err == nil {
		aead, err = key.NewGCM()
	}
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("pki: PKCS#11 AES key %q on token %q: %w", cfg.KeyLabel, cfg.TokenLabel, err)
	}
	return &PKCS11AEAD{AEAD: aead, ctx: ctx}, nil
}

// Close ends the PKCS #11 sessions.
func (a *PKCS11AEAD) Close() error {
	if err := a.ctx.Close(); err != nil {
		return fmt.Errorf("pki: close PKCS#11 token: %w", err)
	}
	return nil
}
