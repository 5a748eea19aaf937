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

// SignerSubject is who a signer certificate is issued to.
type SignerSubject struct {
	Name, Email string
	// SerialNumber is the subject's serialNumber attribute (X.520; ETSI EN
	// 319 412-1 uses it for a natural person's identifier): the national
	// identification number an identity provider vouched for. Empty: none.
	SerialNumber string
}

// IssueSigner creates a fresh ECDSA P-256 key and a short-lived certificate
// for it, subject CN=name and emailAddress=email, and records it so the
// OCSP responder answers for it.
func (p *PKI) IssueSigner(ctx context.Context, name, email string) (*Credential, error) {
	return p.IssueSignerFor(ctx, SignerSubject{Name: name, Email: email})
}

// IssueSignerFor is IssueSigner for a subject that may carry a verified
// serial number.
func (p *PKI) IssueSignerFor(ctx context.Context, sub SignerSubject) (*Credential, error) {
	name, email := strings.TrimSpace(sub.Name), sub.Email
	if name == "" || len(name) > 64 { // ub-common-name (RFC 5280)
		return nil, fmt.Errorf("%w: name must be 1 to 64 characters", ErrInvalidSigner)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 255 {
		return nil, fmt.Errorf("%w: %q is not a bare e-mail address", ErrInvalidSigner, email)
	}
	if !ValidSerialNumber(sub.SerialNumber) {
		return nil, fmt.Errorf("%w: serial number %q is not 0 to 64 PrintableString characters", ErrInvalidSigner, sub.SerialNumber)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate signer key: %w", err)
	}
	tmpl := signerTemplate(name, email, p.now(), p.signerValidity, p.urls)
	tmpl.Subject.SerialNumber = sub.SerialNumber
	cert, err := issue(tmpl, p.m.Issuing, key.Public(), p.m.IssuingKey)
	if err != nil {
		return nil, fmt.Errorf("pki: issue signer certificate: %w", err)
	}
	if err := p.store.Record(ctx, cert); err != nil {
		return nil, fmt.Errorf("pki: record signer certificate: %w", err)
	}
	return &Credential{Cert: cert, Key: key, Chain: p.chain()}, nil
}

// ValidSerialNumber reports whether s can be a subject's serialNumber:
// at most 64 (ub-serial-number) PrintableString characters.
func ValidSerialNumber(s string) bool {
	return len(s) <= 64 && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" '()+,-./:=?", r))
	}) < 0
}
