package rfc3161

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/vellum-sign/vellum/pkg/cms"
)

// Token is a parsed TimeStampToken: the TSTInfo fields and the
// certificates embedded in its SignedData.
type Token struct {
	Raw           []byte // the ContentInfo as received, without padding
	GenTime       time.Time
	SerialNumber  *big.Int
	Policy        x509.OID
	HashAlgorithm crypto.Hash // message imprint algorithm
	Digest        []byte      // message imprint hashed message
	Nonce         *big.Int    // nil when the request carried none
	Accuracy      time.Duration
	Ordering      bool
	Extensions    []pkix.Extension
	// Certificates are all certificates embedded in the token; SignerCert
	// is the one its SignerInfo names, nil when the TSA did not embed it.
	Certificates []*x509.Certificate
	SignerCert   *x509.Certificate
	// SignedData is the token's CMS structure.
	SignedData *cms.SignedData
}

// ParseToken decodes a TimeStampToken (DER, or BER as some TSAs write it)
// without verifying it. Trailing zero bytes, the padding of a PDF /Contents
// string, are ignored.
func ParseToken(der []byte) (*Token, error) {
	sd, err := cms.ParseSignedData(der)
	if err != nil {
		return nil, fmt.Errorf("parse time-stamp token: %w: %v", ErrMalformed, err)
	}
	// RFC 3161 §2.4.2: exactly one signer, over an encapsulated TSTInfo.
	if len(sd.Signers) != 1 {
		return nil, fmt.Errorf("parse time-stamp token: %w: a time-stamp token needs exactly one SignerInfo", ErrMalformed)
	}
	if h := sd.Signers[0].Hash; h == 0 || h == crypto.SHA1 {
		return nil, fmt.Errorf("parse time-stamp token: %w: SignerInfo digest algorithm", ErrUnsupportedHash)
	}
	if !sd.ContentType.Equal(cms.OIDTSTInfo) || sd.Content == nil {
		return nil, fmt.Errorf("parse time-stamp token: %w: content type %v is not TSTInfo", ErrMalformed, sd.ContentType)
	}
	t := &Token{Raw: slices.Clone(sd.Raw), Certificates: sd.Certificates, SignerCert: sd.Signers[0].Certificate, SignedData: sd}
	if err := t.parseTSTInfo(sd.Content); err != nil {
		return nil, fmt.Errorf("parse time-stamp token: %w", err)
	}
	return t, nil
}

func (t *Token) parseTSTInfo(der []byte) error {
	input := cryptobyte.String(der)
	var s, policy cryptobyte.String
	var version int64
	if !input.ReadASN1(&s, cbasn1.SEQUENCE) || !input.Empty() ||
		!s.ReadASN1Integer(&version) || version != 1 ||
		!s.ReadASN1(&policy, cbasn1.OBJECT_IDENTIFIER) || t.Policy.UnmarshalBinary(policy) != nil {
		return fmt.Errorf("%w: TSTInfo header", ErrMalformed)
	}
	var err error
	if t.HashAlgorithm, t.Digest, err = readMessageImprint(&s); err != nil {
		return err
	}
	t.SerialNumber = new(big.Int)
	var ok bool
	if !s.ReadASN1Integer(t.SerialNumber) {
		return fmt.Errorf("%w: TSTInfo serialNumber", ErrMalformed)
	}
	if t.GenTime, ok = readGeneralizedTime(&s); !ok {
		return fmt.Errorf("%w: TSTInfo genTime", ErrMalformed)
	}
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		if t.Accuracy, ok = readAccuracy(&s); !ok {
			return fmt.Errorf("%w: TSTInfo accuracy", ErrMalformed)
		}
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) && !s.ReadASN1Boolean(&t.Ordering) {
		return fmt.Errorf("%w: TSTInfo ordering", ErrMalformed)
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		t.Nonce = new(big.Int)
		if !s.ReadASN1Integer(t.Nonce) {
			return fmt.Errorf("%w: TSTInfo nonce", ErrMalformed)
		}
	}
	if !s.SkipOptionalASN1(tagCtx0) { // tsa GeneralName: informational only
		return fmt.Errorf("%w: TSTInfo tsa", ErrMalformed)
	}
	if s.PeekASN1Tag(tagCtx1) {
		if t.Extensions, err = readExtensions(&s); err != nil {
			return err
		}
	}
	if !s.Empty() {
		return fmt.Errorf("%w: trailing data in TSTInfo", ErrMalformed)
	}
	return nil
}

// readAccuracy reads Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL,
// millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }.
func readAccuracy(s *cryptobyte.String) (time.Duration, bool) {
	var acc cryptobyte.String
	var sec, ms, us int64
	// cryptobyte's ReadOptionalASN1Integer expects EXPLICIT tagging;
	// these fields are universal or IMPLICIT, hence Peek + ReadWithTag.
	fields := []struct {
		tag cbasn1.Tag
		dst *int64
	}{{cbasn1.INTEGER, &sec}, {cbasn1.Tag(0).ContextSpecific(), &ms}, {cbasn1.Tag(1).ContextSpecific(), &us}}
	if !s.ReadASN1(&acc, cbasn1.SEQUENCE) {
		return 0, false
	}
	for _, f := range fields {
		if acc.PeekASN1Tag(f.tag) && !acc.ReadASN1Int64WithTag(f.dst, f.tag) {
			return 0, false
		}
	}
	if !acc.Empty() {
		return 0, false
	}
	if sec < 0 || sec > 1<<31 || ms < 0 || ms > 999 || us < 0 || us > 999 {
		return 0, false
	}
	return time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond, true
}

// VerifySignature checks the token's CMS signature — content type, message
// digest, the ESS signing-certificate binding RFC 3161 requires, the
// signature value — and that the TSA certificate is fit for time-stamping.
// It does not build a chain. The TSA certificate is looked up among the
// token's certificates, then extra (a PDF's DSS holds it when the token
// does not); it is returned.
func (t *Token) VerifySignature(extra []*x509.Certificate) (*x509.Certificate, error) {
	cert, err := t.SignedData.SignerCertificate(extra)
	if err != nil {
		return nil, ErrNoCertificate
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
		return nil, fmt.Errorf("%w: TSA certificate %q lacks the timeStamping extended key usage",
			ErrBadSignature, cert.Subject)
	}
	_, err = t.SignedData.Verify(cms.VerifyOptions{Intermediates: extra, RequireSigningCertificate: true, Time: t.GenTime})
	if errors.Is(err, cms.ErrMalformed) {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if errors.Is(err, cms.ErrUnsupportedAlgorithm) {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return cert, nil
}

// VerifyImprint reports whether the token time-stamps data, hashed with the
// token's own imprint algorithm.
func (t *Token) VerifyImprint(data []byte) error {
	if !t.HashAlgorithm.Available() {
		return ErrUnsupportedHash
	}
	h := t.HashAlgorithm.New()
	h.Write(data)
	if !bytes.Equal(h.Sum(nil), t.Digest) {
		return ErrImprintMismatch
	}
	return nil
}

// VerifyToken parses der and checks that it time-stamps digest (computed
// with the token's own imprint algorithm), that its signature is valid,
// and that the signer certificate chains to roots for time-stamping at the
// token's genTime, using the token's other certificates as intermediates.
// A nil roots means the system roots.
func VerifyToken(der, digest []byte, roots *x509.CertPool) (*Token, error) {
	t, err := ParseToken(der)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(t.Digest, digest) {
		return nil, fmt.Errorf("verify time-stamp token: %w", ErrImprintMismatch)
	}
	cert, err := t.VerifySignature(nil)
	if err != nil {
		return nil, fmt.Errorf("verify time-stamp token: %w", err)
	}
	if err := t.verifyChain(cert, roots); err != nil {
		return nil, fmt.Errorf("verify time-stamp token: %w", err)
	}
	return t, nil
}

func (t *Token) verifyChain(cert *x509.Certificate, roots *x509.CertPool) error {
	inter := x509.NewCertPool()
	for _, c := range t.Certificates {
		if c != cert {
			inter.AddCert(c)
		}
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   t.GenTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return fmt.Errorf("TSA certificate %q: %w", cert.Subject, err)
	}
	return nil
}
