package pki

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
	"errors"
	"fmt"
	"time"
)

// Person certificate profiles: what a long-lived certificate issued to a
// person (or a legal entity's seal, or a server) says it may do.
const (
	ProfilePersonal = "PERSONAL"
	ProfileSeal     = "SEAL"
	ProfileServer   = "SERVER"
)

// Key algorithms the platform generates for person certificates.
const (
	KeyECDSAP256 = "ECDSA-P256"
	KeyRSA3072   = "RSA-3072"
)

// MaxPersonValidity bounds a person certificate's lifetime; the issuing CA's
// own expiry bounds it further.
const MaxPersonValidity = 5 * 365 * 24 * time.Hour

// PersonRequest describes a long-lived certificate for a person's key.
type PersonRequest struct {
	Profile string // ProfilePersonal, ProfileSeal or ProfileServer
	Name    string // subject commonName
	// Email, when set, goes into the subject (emailAddress) and the
	// subjectAltName.
	Email string
	// SerialNumber, when set, is the subject's serialNumber attribute: the
	// national identifier (Kazakh certificates carry "IIN" and the IIN).
	SerialNumber string
	// Key is the subject's key, from GeneratePersonKey.
	Key      crypto.Signer
	Validity time.Duration
	// Names, when set, are the subject's name attributes as a certificate
	// request gave them (a PostSignum request's): they add to Name, which
	// stays the commonName, and Emails replace Email.
	Names *SubjectNames
}

// SubjectNames are the name attributes of a requested certificate.
type SubjectNames struct {
	GivenName, Surname string
	// Title is the holder's position in the organisation; Unit the
	// workplace (organizationalUnitName); Country ISO 3166-1 alpha-2.
	Title, Unit, Country string
	// Emails go to the subjectAltName (at most MaxEmails); the first also
	// to the subject's emailAddress.
	Emails []string
}

// MaxEmails is how many addresses a requested certificate carries, as
// PostSignum's certificates do.
const MaxEmails = 3

// ErrInvalidPersonRequest means a PersonRequest cannot become a certificate.
var ErrInvalidPersonRequest = errors.New("pki: invalid person certificate request")

// MaxValidityAt is the longest lifetime a person certificate issued at t may
// have: MaxPersonValidity, cut at the issuing CA's expiry.
func (p *PKI) MaxValidityAt(t time.Time) time.Duration {
	return min(MaxPersonValidity, p.m.Issuing.NotAfter.Sub(t))
}

// IssuePerson issues a long-lived certificate for req.Key under the issuing
// CA, with a serial number no other certificate of this PKI has, and
// records it so the OCSP responder and the CRL know it.
func (p *PKI) IssuePerson(ctx context.Context, req PersonRequest) (*x509.Certificate, error) {
	now := p.now()
	if req.Validity <= 0 || req.Validity > p.MaxValidityAt(now) {
		return nil, fmt.Errorf("%w: validity %s is outside (0, %s]", ErrInvalidPersonRequest, req.Validity, p.MaxValidityAt(now))
	}
	if req.Name == "" || len(req.Name) > 64 { // ub-common-name (RFC 5280)
		return nil, fmt.Errorf("%w: name must be 1 to 64 characters", ErrInvalidPersonRequest)
	}
	key := req.Key
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrInvalidPersonRequest)
	}
	tmpl := leafTemplate(now, req.Validity, p.urls)
	tmpl.Subject = pkix.Name{CommonName: req.Name, SerialNumber: req.SerialNumber}
	emails := []string{}
	if req.Email != "" {
		emails = []string{req.Email}
	}
	if n := req.Names; n != nil {
		if len(n.Emails) > MaxEmails {
			return nil, fmt.Errorf("%w: at most %d email addresses", ErrInvalidPersonRequest, MaxEmails)
		}
		emails = n.Emails
		for _, a := range []struct {
			oid asn1.ObjectIdentifier
			v   string
		}{{oidGivenName, n.GivenName}, {oidSurname, n.Surname}, {oidTitle, n.Title}} {
			if a.v != "" {
				tmpl.Subject.ExtraNames = append(tmpl.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: a.oid, Value: a.v})
			}
		}
		if n.Unit != "" {
			tmpl.Subject.OrganizationalUnit = []string{n.Unit}
		}
		if n.Country != "" {
			tmpl.Subject.Country = []string{n.Country}
		}
	}
	if len(emails) > 0 {
		tmpl.Subject.ExtraNames = append(tmpl.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidEmailAddress,
			Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(emails[0])}})
		tmpl.EmailAddresses = emails
	}
	switch req.Profile {
	case ProfilePersonal:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidKPDocumentSigner}
	case ProfileSeal:
		tmpl.Subject.Organization = []string{req.Name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidKPDocumentSigner}
	case ProfileServer:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		return nil, fmt.Errorf("%w: profile %q", ErrInvalidPersonRequest, req.Profile)
	}
	cert, err := p.issueUnique(ctx, tmpl, key.Public())
	if err != nil {
		return nil, fmt.Errorf("pki: issue person certificate: %w", err)
	}
	if err := p.store.Record(ctx, cert); err != nil {
		return nil, fmt.Errorf("pki: record person certificate: %w", err)
	}
	return cert, nil
}

// GeneratePersonKey generates a key for a person certificate: alg is
// KeyECDSAP256 (the default when empty) or KeyRSA3072.
func GeneratePersonKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "", KeyECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("pki: generate ECDSA key: %w", err)
		}
		return k, nil
	case KeyRSA3072:
		k, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return nil, fmt.Errorf("pki: generate RSA key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: key algorithm %q (use %s or %s)", ErrInvalidPersonRequest, alg, KeyECDSAP256, KeyRSA3072)
}

// issueUnique issues tmpl with a serial number the store has never seen.
// 128 random bits make a collision practically impossible; checking costs
// one lookup and turns "practically" into "never" for long-lived
// certificates, whose serial identifies them in CRLs for years.
func (p *PKI) issueUnique(ctx context.Context, tmpl *x509.Certificate, pub crypto.PublicKey) (*x509.Certificate, error) {
	for range 3 {
		cert, err := issue(tmpl, p.m.Issuing, pub, p.m.IssuingKey)
		if err != nil {
			return nil, err
		}
		_, err = p.store.Status(ctx, cert.SerialNumber)
		if errors.Is(err, ErrNotFound) {
			return cert, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, errors.New("no unused serial number after 3 attempts")
}
