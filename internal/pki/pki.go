// Package pki is Vellum's platform PKI: a root and an issuing CA, the
// platform seal and TSA certificates, short-lived signer certificates
// issued on demand, and the OCSP responder, CRLs and CA certificates that
// make those certificates verifiable (and embeddable in PAdES B-LT).
package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Material is the certificates and keys the PKI runs with. RootKey is
// optional: production keeps the root offline, and without it the PKI
// serves no root CRL.
type Material struct {
	Root       *x509.Certificate
	RootKey    crypto.Signer
	Issuing    *x509.Certificate
	IssuingKey crypto.Signer
	Seal       *x509.Certificate
	SealKey    crypto.Signer
	TSA        *x509.Certificate
	TSAKey     crypto.Signer
}

// Credential is a certificate, its key and its chain up to the root
// (issuing CA first), ready for signing.
type Credential struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// URLs are where the PKI publishes revocation data and CA certificates,
// as written into the certificates it issues.
type URLs struct {
	OCSP        string // <base>/pki/ocsp
	IssuingCRL  string // <base>/pki/crl/issuing.crl
	RootCRL     string // <base>/pki/crl/root.crl
	IssuingCert string // <base>/pki/ca/issuing.crt
	RootCert    string // <base>/pki/ca/root.crt
}

// NewURLs derives the publication URLs from the public base URL.
func NewURLs(baseURL string) (URLs, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return URLs{}, fmt.Errorf("pki: base URL %q is not an absolute http(s) URL", baseURL)
	}
	// Validators fetch OCSP and CRLs over plain HTTP by convention (RFC
	// 5280 §4.2.1.13), but we keep the scheme the operator configured.
	base := strings.TrimSuffix(baseURL, "/")
	return URLs{
		OCSP:        base + "/pki/ocsp",
		IssuingCRL:  base + "/pki/crl/issuing.crl",
		RootCRL:     base + "/pki/crl/root.crl",
		IssuingCert: base + "/pki/ca/issuing.crt",
		RootCert:    base + "/pki/ca/root.crt",
	}, nil
}

// PKI issues signer certificates and publishes revocation data.
type PKI struct {
	m              Material
	urls           URLs
	store          CertStore
	now            func() time.Time
	signerValidity time.Duration
	crlValidity    time.Duration

	crlMu sync.Mutex
	crls  map[string]cachedCRL // by issuer: "issuing" or "root"

	ocspMu    sync.Mutex
	ocspCache map[string]ocspAnswer // by responder, CertID hash and serial
}

// Option configures a PKI.
type Option func(*PKI)

// WithStore sets where issued certificates and revocations are kept;
// the default is a fresh MemoryStore.
func WithStore(s CertStore) Option { return func(p *PKI) { p.store = s } }

// WithClock sets the time source, so tests of this and other packages can
// move time past certificate and CRL lifetimes.
func WithClock(now func() time.Time) Option { return func(p *PKI) { p.now = now } }

// New checks that m is a coherent hierarchy and returns a PKI publishing
// under baseURL. The seal and TSA certificates are recorded in the store so
// that OCSP answers for them.
func New(ctx context.Context, m Material, baseURL string, opts ...Option) (*PKI, error) {
	urls, err := NewURLs(baseURL)
	if err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	p := &PKI{
		m: m, urls: urls, store: NewMemoryStore(), now: time.Now,
		signerValidity: DefaultSignerValidity, crlValidity: 24 * time.Hour,
		crls: map[string]cachedCRL{}, ocspCache: map[string]ocspAnswer{},
	}
	for _, o := range opts {
		o(p)
	}
	for _, c := range []*x509.Certificate{m.Seal, m.TSA} {
		if err := p.store.Record(ctx, c); err != nil {
			return nil, fmt.Errorf("pki: record %q: %w", c.Subject.CommonName, err)
		}
	}
	return p, nil
}

// check verifies that every certificate chains as expected and that each
// key matches its certificate, so a misconfiguration fails at start.
func (m Material) check() error {
	if m.Root == nil || m.Issuing == nil || m.IssuingKey == nil || m.Seal == nil || m.SealKey == nil || m.TSA == nil || m.TSAKey == nil {
		return errors.New("pki: root, issuing, seal and TSA certificates and the issuing, seal and TSA keys are all required")
	}
	if err := m.Issuing.CheckSignatureFrom(m.Root); err != nil {
		return fmt.Errorf("pki: issuing CA is not signed by the root: %w", err)
	}
	for _, c := range []*x509.Certificate{m.Seal, m.TSA} {
		if err := c.CheckSignatureFrom(m.Issuing); err != nil {
			return fmt.Errorf("pki: %q is not signed by the issuing CA: %w", c.Subject.CommonName, err)
		}
	}
	pairs := []struct {
		name string
		cert *x509.Certificate
		key  crypto.Signer
	}{{"root", m.Root, m.RootKey}, {"issuing", m.Issuing, m.IssuingKey}, {"seal", m.Seal, m.SealKey}, {"tsa", m.TSA, m.TSAKey}}
	for _, pr := range pairs {
		if pr.key == nil {
			continue // only the root key may be absent
		}
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if k, ok := pr.key.Public().(equaler); !ok || !k.Equal(pr.cert.PublicKey) {
			return fmt.Errorf("pki: %s key does not match its certificate", pr.name)
		}
	}
	return nil
}

// URLs returns the publication URLs.
func (p *PKI) URLs() URLs { return p.urls }

// Root returns the root CA certificate (the trust anchor).
func (p *PKI) Root() *x509.Certificate { return p.m.Root }

// Issuing returns the issuing CA certificate.
func (p *PKI) Issuing() *x509.Certificate { return p.m.Issuing }

// Seal returns the platform seal credential.
func (p *PKI) Seal() Credential {
	return Credential{Cert: p.m.Seal, Key: p.m.SealKey, Chain: p.chain()}
}

// TSA returns the credential of the built-in time-stamping authority.
func (p *PKI) TSA() Credential {
	return Credential{Cert: p.m.TSA, Key: p.m.TSAKey, Chain: p.chain()}
}

func (p *PKI) chain() []*x509.Certificate { return []*x509.Certificate{p.m.Issuing, p.m.Root} }

// Revoke revokes the certificate with this serial number, issued by the issuing CA. reason is an RFC
// 5280 CRL reason code (0 unspecified, 1 keyCompromise, …).
func (p *PKI) Revoke(ctx context.Context, serial *big.Int, reason int) error {
	if err := p.store.Revoke(ctx, serial, reason, p.now()); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	// Publish the revocation at the next fetch.
	p.crlMu.Lock()
	delete(p.crls, "issuing")
	p.crlMu.Unlock()
	p.ocspMu.Lock()
	clear(p.ocspCache)
	p.ocspMu.Unlock()
	return nil
}
