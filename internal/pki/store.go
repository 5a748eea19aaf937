package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// ErrNotFound means the serial number was not issued by this PKI.
var ErrNotFound = errors.New("pki: certificate not found")

// Entry is what the PKI remembers about an issued certificate.
type Entry struct {
	Serial    *big.Int
	Subject   string
	NotAfter  time.Time
	RevokedAt time.Time // zero while the certificate is valid
	Reason    int       // CRL reason code (RFC 5280 §5.3.1) when revoked
}

// Revoked reports whether the certificate has been revoked.
func (e Entry) Revoked() bool { return !e.RevokedAt.IsZero() }

// CertStore records issued certificates and their revocation, feeding the
// OCSP responder and the CRL. Implementations must be safe for concurrent
// use; Record must be idempotent, since the seal and TSA certificates are
// recorded again at every start.
type CertStore interface {
	Record(ctx context.Context, cert *x509.Certificate) error
	// Revoke marks serial revoked; ErrNotFound if it was never recorded.
	Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error
	// Status returns the entry for serial; ErrNotFound if never recorded.
	Status(ctx context.Context, serial *big.Int) (Entry, error)
	// Revoked lists revoked certificates that have not yet expired.
	Revoked(ctx context.Context, now time.Time) ([]Entry, error)
}

// MemoryStore is a CertStore in process memory, for `vellum dev` and tests.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[string]Entry // keyed by serial in hex
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: map[string]Entry{}}
}

// Record implements CertStore.
func (s *MemoryStore) Record(_ context.Context, cert *x509.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := cert.SerialNumber.Text(16)
	if _, ok := s.entries[key]; ok {
		return nil // keep any revocation already recorded
	}
	s.entries[key] = Entry{Serial: cert.SerialNumber, Subject: cert.Subject.String(), NotAfter: cert.NotAfter}
	return nil
}

// Revoke implements CertStore. Revoking twice keeps the first time.
func (s *MemoryStore) Revoke(_ context.Context, serial *big.Int, reason int, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := serial.Text(16)
	e, ok := s.entries[key]
	if !ok {
		return fmt.Errorf("revoke %s: %w", key, ErrNotFound)
	}
	if !e.Revoked() {
		e.RevokedAt, e.Reason = at, reason
		s.entries[key] = e
	}
	return nil
}

// Status implements CertStore.
func (s *MemoryStore) Status(_ context.Context, serial *big.Int) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[serial.Text(16)]
	if !ok {
		return Entry{}, fmt.Errorf("status %s: %w", serial.Text(16), ErrNotFound)
	}
	return e, nil
}

// Revoked implements CertStore.
func (s *MemoryStore) Revoked(_ context.Context, now time.Time) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, e := range s.entries {
		if e.Revoked() && e.NotAfter.After(now) {
			out = append(out, e)
		}
	}
	return out, nil
}
