//go:build cgo

package pki

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11Config locates a private key on a PKCS #11 token (an HSM, or
// SoftHSM2 in tests).
type PKCS11Config struct {
	Module     string // path of the PKCS #11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	PIN        string
	KeyLabel   string // CKA_LABEL of the key pair
}

// PKCS11Key is a crypto.Signer whose private key never leaves the token.
// Close it when the process stops.
type PKCS11Key struct {
	crypto.Signer
	ctx *crypto11.Context
}

// OpenPKCS11Key logs into the token and finds the key pair by label.
func OpenPKCS11Key(cfg PKCS11Config) (*PKCS11Key, error) {
	if cfg.Module == "" || cfg.TokenLabel == "" || cfg.KeyLabel == "" {
		return nil, errors.New("pki: PKCS#11 module, token label and key label are required")
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		return nil, fmt.Errorf("pki: open PKCS#11 token %q via %s: %w", cfg.TokenLabel, cfg.Module, err)
	}
	signer, err := ctx.FindKeyPair(nil, []byte(cfg.KeyLabel))
	if err == nil && signer == nil {
		err = errors.New("no such key pair")
	}
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("pki: PKCS#11 key %q on token %q: %w", cfg.KeyLabel, cfg.TokenLabel, err)
	}
	return &PKCS11Key{Signer: signer, ctx: ctx}, nil
}

// Close ends the PKCS #11 sessions.
func (k *PKCS11Key) Close() error {
	if err := k.ctx.Close(); err != nil {
		return fmt.Errorf("pki: close PKCS#11 token: %w", err)
	}
	return nil
}
