package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1" // legacy signatures found in existing PDFs
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// VerifyOptions controls signature verification.
type VerifyOptions struct {
	// Roots, when set, makes Verify build a chain from the signer certificate
	// to one of these roots, using the SignedData's certificates and
	// Intermediates as intermediates.
	Roots *x509.CertPool
	// Intermediates adds certificates for chain building, and candidates for
	// the signer's certificate when the SignedData does not embed it (a PDF's
	// DSS, for instance).
	Intermediates []*x509.Certificate
	// Time is the moment at which certificate validity is checked; the
	// signing-time attribute, then now, when zero.
	Time time.Time
	// KeyUsages restricts the signer's extended key usages; any when empty.
	KeyUsages []x509.ExtKeyUsage
	// RequireSigningCertificate makes a missing ESS signing-certificate(-v2)
	// attribute an error (RFC 3161 tokens, CAdES and PAdES signatures must
	// carry one). When the attribute is present it is always checked.
	RequireSigningCertificate bool
}

// Result reports what Verify found about the first signer.
type Result struct {
	Signer      *SignerInfo
	Certificate *x509.Certificate
	// DigestValid: the message-digest attribute equals the content digest.
	DigestValid bool
	// SignatureValid: the signature verifies with the signer's public key
	// and the certificate is the one the signed attributes name.
	SignatureValid bool
	// Chains are the verified chains (when VerifyOptions.Roots was set).
	Chains [][]*x509.Certificate
	// ChainErr is the chain-building error, nil when the chain verified or
	// no roots were given.
	ChainErr error
	// VerifiedAt is the time used for certificate validity.
	VerifiedAt time.Time
}

// Errors reported by verification; Verify wraps them.
var (
	ErrDigestMismatch   = errors.New("cms: message digest does not match content")
	ErrInvalidSignature = errors.New("cms: invalid signature")
	ErrNoCertificate    = errors.New("cms: signer certificate not found")
	// ErrSigningCertificate means the ESS signing-certificate attribute is
	// missing where required, or names another certificate than the one
	// that verifies the signature (a substituted certificate).
	ErrSigningCertificate   = errors.New("cms: signing-certificate attribute does not name the signer certificate")
	ErrUnsupportedAlgorithm = errors.New("cms: unsupported algorithm")
)

// Verify checks an attached SignedData over its encapsulated content.
func (sd *SignedData) Verify(opts VerifyOptions) (*Result, error) {
	if sd.Content == nil {
		return nil, errors.New("cms: detached signature needs the content digest")
	}
	h := sd.Signers[0].Hash
	if h == 0 || !h.Available() {
		return nil, fmt.Errorf("%w: digest algorithm", ErrUnsupportedAlgorithm)
	}
	hh := h.New()
	hh.Write(sd.Content)
	return sd.VerifyDigest(hh.Sum(nil), opts)
}

// SignerCertificate returns the certificate the first SignerInfo names,
// looked up among the embedded certificates and then extra.
func (sd *SignedData) SignerCertificate(extra []*x509.Certificate) (*x509.Certificate, error) {
	s := sd.Signers[0]
	if s.Certificate != nil {
		return s.Certificate, nil
	}
	if c := s.findCertificate(extra); c != nil {
		return c, nil
	}
	if len(sd.badCerts) > 0 {
		return nil, fmt.Errorf("%w (an embedded certificate does not parse: %v)", ErrNoCertificate, sd.badCerts[0])
	}
	return nil, ErrNoCertificate
}

// VerifyDigest checks the first signer against the digest of the (detached)
// content, computed with Signers[0].Hash: the content-type and
// message-digest attributes, the ESS signing-certificate binding, the
// signature, and the chain if roots were given. The error is non-nil when
// any of them fails; Result is filled as far as verification got.
func (sd *SignedData) VerifyDigest(digest []byte, opts VerifyOptions) (*Result, error) {
	s := sd.Signers[0]
	res := &Result{Signer: s}
	cert, err := sd.SignerCertificate(opts.Intermediates)
	if err != nil {
		return res, err
	}
	res.Certificate = cert
	if s.Hash == 0 || !s.Hash.Available() {
		return res, fmt.Errorf("%w: digest algorithm", ErrUnsupportedAlgorithm)
	}
	msg := digest
	if s.hasSignedAttrs {
		// RFC 5652 §5.3: both attributes MUST be present with signed attributes.
		if s.contentType == nil || !s.contentType.Equal(sd.ContentType) {
			return res, errors.New("cms: content-type attribute missing or different from the encapsulated content type")
		}
		if s.MessageDigest == nil {
			return res, errors.New("cms: message-digest attribute missing")
		}
		res.DigestValid = bytes.Equal(s.MessageDigest, digest)
		if err := s.checkSigningCertificate(cert, opts.RequireSigningCertificate); err != nil {
			return res, err
		}
		msg = s.signedAttrs
	} else {
		if opts.RequireSigningCertificate {
			return res, fmt.Errorf("%w: no signed attributes", ErrSigningCertificate)
		}
		// Without signed attributes the signature is over the content itself,
		// which we only know by digest: only RSA/ECDSA can be checked.
		res.DigestValid = true
	}
	if err := checkSignature(cert, s, msg, !s.hasSignedAttrs); err != nil {
		return res, err
	}
	res.SignatureValid = true
	if !res.DigestValid {
		return res, ErrDigestMismatch
	}
	res.VerifiedAt = opts.Time
	if res.VerifiedAt.IsZero() {
		res.VerifiedAt = s.SigningTime
	}
	if res.VerifiedAt.IsZero() {
		res.VerifiedAt = time.Now()
	}
	if opts.Roots != nil {
		pool := append(append([]*x509.Certificate{}, sd.Certificates...), opts.Intermediates...)
		res.Chains, res.ChainErr = verifyChain(cert, pool, opts.Roots, res.VerifiedAt, opts.KeyUsages)
		if res.ChainErr != nil {
			return res, fmt.Errorf("cms: certificate chain: %w", res.ChainErr)
		}
	}
	return res, nil
}

// checkSigningCertificate enforces the ESS attribute: the first certificate
// it names must be the one whose key verifies the signature, so that
// another certificate for the same key cannot be substituted.
func (s *SignerInfo) checkSigningCertificate(cert *x509.Certificate, required bool) error {
	if len(s.essCerts) == 0 {
		if required {
			return fmt.Errorf("%w: attribute missing", ErrSigningCertificate)
		}
		return nil
	}
	id := s.essCerts[0]
	if !id.hash.Available() {
		return fmt.Errorf("%w: ESS hash %v", ErrUnsupportedAlgorithm, id.hash)
	}
	h := id.hash.New()
	h.Write(cert.Raw)
	if !bytes.Equal(h.Sum(nil), id.certHash) {
		return ErrSigningCertificate
	}
	if id.serial != nil {
		if id.serial.Cmp(cert.SerialNumber) != 0 {
			return fmt.Errorf("%w: serial number differs", ErrSigningCertificate)
		}
		match := len(id.issuers) == 0
		for _, n := range id.issuers {
			if sameName(n, cert.RawIssuer) {
				match = true
			}
		}
		if !match {
			return fmt.Errorf("%w: issuer differs", ErrSigningCertificate)
		}
	}
	return nil
}

// sameName compares two DER Names, byte for byte or, failing that, by value
// (some encoders re-encode string types).
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var na, nb pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &na); err != nil || len(rest) > 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &nb); err != nil || len(rest) > 0 {
		return false
	}
	return na.String() == nb.String()
}

func verifyChain(leaf *x509.Certificate, pool []*x509.Certificate, roots *x509.CertPool, at time.Time, usages []x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range pool {
		inter.AddCert(c)
	}
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	return leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: usages})
}

// checkSignature verifies s.Signature over msg (or over a digest when
// msgIsDigest) with cert's public key. The signature algorithm must suit
// the key, and an algorithm that names its hash must name the SignerInfo's.
func checkSignature(cert *x509.Certificate, s *SignerInfo, msg []byte, msgIsDigest bool) error {
	hashed := func(h crypto.Hash) []byte {
		if msgIsDigest {
			return msg
		}
		hh := h.New()
		hh.Write(msg)
		return hh.Sum(nil)
	}
	if named := namedSignatureHash(s.sigAlg); named != 0 && named != s.Hash {
		return fmt.Errorf("%w: signature algorithm %v with digest algorithm %v", ErrUnsupportedAlgorithm, s.sigAlg, s.Hash)
	}
	var ok bool
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case s.sigAlg.Equal(oidRSAPSS):
			if s.pssHash == 0 || !s.pssHash.Available() || (msgIsDigest && s.pssHash != s.Hash) {
				return fmt.Errorf("%w: RSASSA-PSS hash", ErrUnsupportedAlgorithm)
			}
			ok = rsa.VerifyPSS(pub, s.pssHash, hashed(s.pssHash), s.Signature, &rsa.PSSOptions{SaltLength: s.pssSalt, Hash: s.pssHash}) == nil
		case s.sigAlg.Equal(oidRSAEncryption), namedSignatureHash(s.sigAlg) != 0 && !isECDSAAlg(s.sigAlg):
			ok = rsa.VerifyPKCS1v15(pub, s.Hash, hashed(s.Hash), s.Signature) == nil
		default:
			return fmt.Errorf("%w: signature algorithm %v for an RSA key", ErrUnsupportedAlgorithm, s.sigAlg)
		}
	case *ecdsa.PublicKey:
		if !isECDSAAlg(s.sigAlg) && !s.sigAlg.Equal(oidECPublicKey) {
			return fmt.Errorf("%w: signature algorithm %v for an ECDSA key", ErrUnsupportedAlgorithm, s.sigAlg)
		}
		ok = ecdsa.VerifyASN1(pub, hashed(s.Hash), s.Signature)
	case ed25519.PublicKey:
		if !s.sigAlg.Equal(oidEd25519) {
			return fmt.Errorf("%w: signature algorithm %v for an Ed25519 key", ErrUnsupportedAlgorithm, s.sigAlg)
		}
		if msgIsDigest {
			return fmt.Errorf("%w: Ed25519 without signed attributes", ErrUnsupportedAlgorithm)
		}
		ok = ed25519.Verify(pub, msg, s.Signature)
	default:
		return fmt.Errorf("%w: public key %T", ErrUnsupportedAlgorithm, cert.PublicKey)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

func isECDSAAlg(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(oidECDSAWithSHA1) || oid.Equal(oidECDSAWithSHA256) || oid.Equal(oidECDSAWithSHA384) || oid.Equal(oidECDSAWithSHA512)
}
