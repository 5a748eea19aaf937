//go:build !cgo

package pki

import (
	"crypto"
	"errors"
)

// PKCS11Config locates a private key on a PKCS #11 token.
type PKCS11Config struct {
	Module, TokenLabel, PIN, KeyLabel string
}

// PKCS11Key is unavailable without cgo.
type PKCS11Key struct{ crypto.Signer }

// OpenPKCS11Key fails: PKCS #11 modules are C libraries, loaded through cgo.
func OpenPKCS11Key(PKCS11Config) (*PKCS11Key, error) {
	return nil, errors.New("pki: PKCS#11 support needs a binary built with CGO_ENABLED=1")
}

// Close does nothing.
func (k *PKCS11Key) Close() error { return nil }
