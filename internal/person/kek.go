package person

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KEK is a key-encryption key: it seals small secrets (the data keys of
// persons' private keys) bound to associated data, and opens only what it
// sealed with the same associated data.
type KEK interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// AEADKey is a KEK over an AEAD: AES-256-GCM in memory (VELLUM_KEK), or
// AES-GCM performed by a PKCS #11 token whose key never leaves it. A sealed
// value is the random nonce followed by the ciphertext and tag.
type AEADKey struct{ aead cipher.AEAD }

// NewAEADKey returns the KEK of an AEAD.
func NewAEADKey(a cipher.AEAD) *AEADKey { return &AEADKey{aead: a} }

// ErrBadKEK means a configured key-encryption key is malformed.
var ErrBadKEK = errors.New("must be 32 random bytes in base64 (generate one with `openssl rand -base64 32`)")

// ParseKEK reads a base64 (standard or URL alphabet, padded or not) 32-byte
// AES-256 key. The error never contains the value.
func ParseKEK(s string) (*AEADKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != 32 {
		return nil, ErrBadKEK
	}
	defer clear(raw)
	k, err := newAESKey(raw)
	if err != nil {
		return nil, ErrBadKEK
	}
	return k, nil
}

// newAESKey is AES-GCM under key (16, 24 or 32 bytes) as a KEK.
func newAESKey(key []byte) (*AEADKey, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return NewAEADKey(gcm), nil
}

// NewKEKString returns a fresh random key in the form ParseKEK reads.
func NewKEKString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key-encryption key: %w", err)
	}
	defer clear(b)
	return base64.StdEncoding.EncodeToString(b), nil
}

// Seal implements KEK.
func (k *AEADKey) Seal(plaintext, ad []byte) (out []byte, err error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	// A PKCS #11 AEAD (crypto11) panics when the token fails: turn that
	// into an error, never a crashed request.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("seal: key-encryption key failed: %v", r)
		}
	}()
	return k.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// errUnsealed is what Open reports for a wrong key, wrong associated data
// or tampered ciphertext: the three are indistinguishable by design.
var errUnsealed = errors.New("open: authentication failed")

// Open implements KEK.
func (k *AEADKey) Open(sealed, ad []byte) (out []byte, err error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errUnsealed
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("open: key-encryption key failed: %v", r)
		}
	}()
	out, err = k.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", errUnsealed, err)
	}
	return out, nil
}

// Keyring is the deployment's two key-encryption keys: KEK seals every
// held private key's data key (together with the certificate's PIN);
// Recovery seals a second copy that lets a reset set a new PIN without the
// old one. See the README's "Key protection".
type Keyring struct {
	KEK      KEK
	Recovery KEK
}
