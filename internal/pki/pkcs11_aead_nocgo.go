//go:build !cgo

package pki

import (
	"crypto/cipher"
	"errors"
)

// PKCS11AEAD is unavailable without cgo.
type PKCS11AEAD struct{ cipher.AEAD }

// OpenPKCS11AEAD fails: PKCS #11 modules are C libraries, loaded through cgo.
func OpenPKCS11AEAD(PKCS11Config) (*PKCS11AEAD, error) {
	return nil, errors.New("pki: PKCS#11 support needs a binary built with CGO_ENABLED=1")
}

// Close does nothing.
func (a *PKCS11AEAD) Close() error { return nil }
