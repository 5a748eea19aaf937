package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"
)

// crlRefresh is how long a generated CRL is served before it is rebuilt;
// revocations through this PKI also invalidate it at once. Short, so that
// revocations made by another instance sharing the store show up quickly.
const crlRefresh = 5 * time.Minute

type cachedCRL struct {
	der     []byte
	builtAt time.Time
}

// CRL returns the current DER CRL of the issuing CA ("issuing") or of the
// root ("root", only when the root key is loaded).
func (p *PKI) CRL(ctx context.Context, which string) ([]byte, error) {
	var (
		issuer  *x509.Certificate
		key     crypto.Signer
		revoked []Entry
		err     error
	)
	switch which {
	case "issuing":
		issuer, key = p.m.Issuing, p.m.IssuingKey
	case "root":
		if p.m.RootKey == nil {
			return nil, fmt.Errorf("pki: root CRL: %w (root key not loaded)", ErrNotFound)
		}
		issuer, key = p.m.Root, p.m.RootKey
	default:
		return nil, fmt.Errorf("pki: CRL %q: %w", which, ErrNotFound)
	}
	now := p.now()
	p.crlMu.Lock()
	defer p.crlMu.Unlock()
	if c, ok := p.crls[which]; ok && now.Sub(c.builtAt) < crlRefresh && now.After(c.builtAt) {
		return c.der, nil
	}
	if which == "issuing" {
		// The root CA revokes nothing through Vellum: the issuing CA is
		// the only certificate it signs.
		if revoked, err = p.store.Revoked(ctx, now); err != nil {
			return nil, fmt.Errorf("pki: list revoked certificates: %w", err)
		}
	}
	der, err := buildCRL(issuer, key, revoked, now, p.crlValidity)
	if err != nil {
		return nil, err
	}
	p.crls[which] = cachedCRL{der: der, builtAt: now}
	return der, nil
}

func buildCRL(issuer *x509.Certificate, key crypto.Signer, revoked []Entry, now time.Time, validity time.Duration) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, e := range revoked {
		entries[i] = x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason}
	}
	tmpl := &x509.RevocationList{
		// The CRL number must grow with every issue (RFC 5280 §5.2.3);
		// nanoseconds keep it growing across restarts and instances.
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now,
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CRL of %q: %w", issuer.Subject.CommonName, err)
	}
	return der, nil
}
