// Package cmstest provides a throw-away PKI and an in-process RFC 3161
// timestamp authority for tests of code that signs with package cms, in the
// spirit of net/http/httptest. Nothing here is fit for production keys.
package cmstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// PKI is a root CA and an intermediate CA issuing end-entity certificates.
type PKI struct {
	Root, Intermediate       *x509.Certificate
	rootKey, intermediateKey crypto.Signer
}

// Identity is an end-entity key and its chain (leaf first, root excluded).
type Identity struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

var serial atomic.Int64

func nextSerial() *big.Int { return big.NewInt(time.Now().UnixNano() + serial.Add(1)) }

// NewPKI creates a root and an intermediate CA with ECDSA P-256 keys.
func NewPKI() (*PKI, error) {
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Add(-time.Hour)
	rootT := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Vellum Test Root", Organization: []string{"Vellum"}},
		NotBefore: now, NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root, err := create(rootT, rootT, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interT := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Vellum Test Issuing CA", Organization: []string{"Vellum"}},
		NotBefore: now, NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	inter, err := create(interT, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	return &PKI{Root: root, Intermediate: inter, rootKey: rootKey, intermediateKey: interKey}, nil
}

// Roots returns a pool holding the root certificate.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// KeyType selects the key algorithm of an issued identity.
type KeyType int

// Key types for Issue.
const (
	ECDSAP256 KeyType = iota
	RSA2048
	ECDSAP384
)

// Issue creates a document-signing identity with the given common name.
func (p *PKI) Issue(commonName string, kt KeyType) (*Identity, error) {
	now := time.Now().Add(-time.Hour)
	return p.issue(commonName, kt, nil, now, now.AddDate(1, 0, 0))
}

// IssueValid creates a document-signing identity valid from notBefore to
// notAfter: short-lived certificates, to test validation after they expire
// without waiting.
func (p *PKI) IssueValid(commonName string, kt KeyType, notBefore, notAfter time.Time) (*Identity, error) {
	return p.issue(commonName, kt, nil, notBefore, notAfter)
}

// IssueTSA creates a time-stamping identity (critical timeStamping EKU).
func (p *PKI) IssueTSA(commonName string) (*Identity, error) {
	now := time.Now().Add(-time.Hour)
	return p.issue(commonName, RSA2048, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, now, now.AddDate(1, 0, 0))
}

func (p *PKI) issue(cn string, kt KeyType, eku []x509.ExtKeyUsage, notBefore, notAfter time.Time) (*Identity, error) {
	var key crypto.Signer
	var err error
	switch kt {
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"Vellum Test"}},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: eku,
	}
	if eku != nil {
		// RFC 3161 2.3: the TSA's extended key usage must be critical; Go
		// marks it non-critical, so encode the extension ourselves.
		t.ExtKeyUsage = nil
		val, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		t.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: val}}
	}
	cert, err := create(t, p.Intermediate, key.Public(), p.intermediateKey)
	if err != nil {
		return nil, err
	}
	return &Identity{Key: key, Chain: []*x509.Certificate{cert, p.Intermediate}}, nil
}

func create(t, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("cmstest: create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// PEM encodes certificates as concatenated CERTIFICATE blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// TSA is an in-process RFC 3161 timestamp authority implementing
// cms.Timestamper, issuing tokens with rfc3161.Issuer.
type TSA struct {
	Identity *Identity
	// Now returns the time put in tokens; time.Now when nil.
	Now      func() time.Time
	count    atomic.Int64
	lastSize atomic.Int64
}

// tsaPolicy is the policy written into test tokens (a private arc).
var tsaPolicy = func() x509.OID {
	oid, err := x509.OIDFromInts([]uint64{1, 3, 6, 1, 4, 1, 99999, 1})
	if err != nil {
		panic(err)
	}
	return oid
}()

// NewTSA issues a TSA certificate from p.
func (p *PKI) NewTSA() (*TSA, error) {
	id, err := p.IssueTSA("Vellum Test TSA")
	if err != nil {
		return nil, err
	}
	return &TSA{Identity: id}, nil
}

// Calls reports how many tokens the TSA has issued.
func (t *TSA) Calls() int { return int(t.count.Load()) }

// Timestamp returns a TimeStampToken over digest that embeds the TSA's
// certificate and intermediate, as a request with certReq gets.
func (t *TSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	t.count.Add(1)
	now := time.Now()
	if t.Now != nil {
		now = t.Now()
	}
	is := &rfc3161.Issuer{Cert: t.Identity.Chain[0], Key: t.Identity.Key, Chain: t.Identity.Chain[1:], Policy: tsaPolicy}
	tok, err := is.Issue(ctx, &rfc3161.Request{HashAlgorithm: h, Digest: digest, CertReq: true}, now)
	if err != nil {
		return nil, fmt.Errorf("cmstest: %w", err)
	}
	t.lastSize.Store(int64(len(tok)))
	return tok, nil
}

// TokenSizeHint returns the length of the last token issued, as
// rfc3161.Client does.
func (t *TSA) TokenSizeHint() int { return int(t.lastSize.Load()) }

// CRL returns DER CRLs issued by the root and the intermediate, revoking
// nothing but the given dummy serial, valid for a week from now.
func (p *PKI) CRL(dummy *big.Int, now time.Time) ([][]byte, error) {
	var out [][]byte
	for _, ca := range []struct {
		cert *x509.Certificate
		key  crypto.Signer
	}{{p.Root, p.rootKey}, {p.Intermediate, p.intermediateKey}} {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: nextSerial(), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(7 * 24 * time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: dummy, RevocationTime: now.Add(-time.Hour)}},
		}, ca.cert, ca.key)
		if err != nil {
			return nil, fmt.Errorf("cmstest: CRL: %w", err)
		}
		out = append(out, der)
	}
	return out, nil
}
