package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// Lifetimes of the generated development PKI and of signer certificates.
const (
	rootValidity    = 10 * 365 * 24 * time.Hour
	issuingValidity = 5 * 365 * 24 * time.Hour
	serviceValidity = 2 * 365 * 24 * time.Hour // seal and TSA
	// DefaultSignerValidity is how long a signer certificate lives: long
	// enough to finish a signing session and its retries, short enough
	// that revocation rarely matters.
	DefaultSignerValidity = 24 * time.Hour
	// clockSkew backdates notBefore so a validator whose clock is a little
	// behind ours still accepts a certificate issued a moment ago.
	clockSkew = 10 * time.Minute
)

var (
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidKPDocumentSigner = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36} // RFC 9336
	oidEmailAddress     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidGivenName        = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidSurname          = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidTitle            = asn1.ObjectIdentifier{2, 5, 4, 12}
)

// randomSerial returns a positive 128-bit serial (RFC 5280 allows 20 octets).
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// subjectKeyID follows RFC 7093 §2 method 1: the leftmost 160 bits of the
// SHA-256 of the subjectPublicKey.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// caTemplate is the profile of the root and issuing CAs.
func caTemplate(cn, org string, now time.Time, validity time.Duration, maxPath int) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPath,
		MaxPathLenZero:        maxPath == 0,
	}
}

// sealTemplate is the profile of the platform seal certificate, which
// signs audit trails and completion certificates.
func sealTemplate(org string, now time.Time, u URLs) *x509.Certificate {
	t := leafTemplate(now, serviceValidity, u)
	t.Subject = pkix.Name{CommonName: org + " Platform Seal", Organization: []string{org}}
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidKPDocumentSigner}
	return t
}

// tsaTemplate is the profile of the TSA certificate: RFC 3161 §2.3 wants
// timeStamping as the only extended key usage, marked critical, which
// x509.CreateCertificate cannot express, so the extension is given raw.
func tsaTemplate(org string, now time.Time, u URLs) (*x509.Certificate, error) {
	t := leafTemplate(now, serviceValidity, u)
	t.Subject = pkix.Name{CommonName: org + " Time-Stamping Authority", Organization: []string{org}}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		return nil, fmt.Errorf("tsa extended key usage: %w", err)
	}
	t.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	return t, nil
}

// signerTemplate is the profile of a short-lived signer certificate.
func signerTemplate(name, email string, now time.Time, validity time.Duration, u URLs) *x509.Certificate {
	t := leafTemplate(now, validity, u)
	t.Subject = pkix.Name{
		CommonName: name,
		// emailAddress is an IA5String (RFC 5280 appendix A.1); a plain
		// string would be encoded as UTF8String.
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidEmailAddress,
			Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(email)}}},
	}
	t.EmailAddresses = []string{email}
	// emailProtection because NSS-based validators (poppler's pdfsig)
	// check signer certificates for the e-mail signer usage.
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	t.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidKPDocumentSigner}
	return t
}

// leafTemplate carries what every end-entity certificate shares: signing
// key usages and the pointers to revocation data.
func leafTemplate(now time.Time, validity time.Duration, u URLs) *x509.Certificate {
	return &x509.Certificate{
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		OCSPServer:            []string{u.OCSP},
		IssuingCertificateURL: []string{u.IssuingCert},
		CRLDistributionPoints: []string{u.IssuingCRL},
	}
}

// issue fills serial and key identifier into tmpl and signs it.
func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	var err error
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(pub); err != nil {
		return nil, err
	}
	if parent == nil {
		parent = tmpl // self-signed
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}
