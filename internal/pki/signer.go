package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// ErrInvalidSigner means the name or e-mail cannot go into a certificate.
var ErrInvalidSigner = errors.New("pki: invalid signer identity")

// IssueSigner creates a fresh ECDSA P-256 key and a short-lived certificate
// for it, subject CN=name and emailAddress=email, and records it so the
// OCSP responder answers for it.
func (p *PKI) IssueSigner(ctx context.Context, name, email string) (*Credential, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 { // ub-common-name (RFC 5280)
		return nil, fmt.Errorf("%w: name must be 1 to 64 characters", ErrInvalidSigner)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 255 {
		return nil, fmt.Errorf("%w: %q is not a bare e-mail address", ErrInvalidSigner, email)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate signer key: %w", err)
	}
	tmpl := signerTemplate(name, email, p.now(), p.signerValidity, p.urls)
	cert, err := issue(tmpl, p.m.Issuing, key.Public(), p.m.IssuingKey)
	if err != nil {
		return nil, fmt.Errorf("pki: issue signer certificate: %w", err)
	}
	if err := p.store.Record(ctx, cert); err != nil {
		return nil, fmt.Errorf("pki: record signer certificate: %w", err)
	}
	return &Credential{Cert: cert, Key: key, Chain: p.chain()}, nil
}
