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
	// Intermediates adds certificates available for chain building.
	Intermediates []*x509.Certificate
	// Time is the moment at which certificate validity is checked. When zero
	// it is the genTime of the first valid signature timestamp, then the
	// signing-time attribute, then now.
	Time time.Time
	// KeyUsages restricts the signer's extended key usages; any when empty.
	KeyUsages []x509.ExtKeyUsage
}

// Result reports what Verify found about the first signer.
type Result struct {
	Signer      *SignerInfo
	Certificate *x509.Certificate
	// DigestValid: the message-digest attribute equals the content digest.
	DigestValid bool
	// SignatureValid: the signature verifies with the signer's public key.
	SignatureValid bool
	// Chains are the verified chains (when VerifyOptions.Roots was set).
	Chains [][]*x509.Certificate
	// ChainErr is the chain-building error, nil when the chain verified or
	// no roots were given.
	ChainErr error
	// Timestamps are the parsed signature timestamp tokens.
	Timestamps []*TimestampToken
	// TimestampErr is the first timestamp verification error.
	TimestampErr error
	// VerifiedAt is the time used for certificate validity.
	VerifiedAt time.Time
}

// Errors reported by verification; Verify wraps them.
var (
	ErrDigestMismatch   = errors.New("cms: message digest does not match content")
	ErrInvalidSignature = errors.New("cms: invalid signature")
	ErrNoCertificate    = errors.New("cms: signer certificate not embedded")
)

// Verify checks an attached SignedData over its encapsulated content.
func (sd *SignedData) Verify(opts VerifyOptions) (*Result, error) {
	if sd.Content == nil {
		return nil, errors.New("cms: detached signature needs the content digest")
	}
	h := sd.Signers[0].Hash
	if h == 0 || !h.Available() {
		return nil, fmt.Errorf("cms: unsupported digest algorithm")
	}
	hh := h.New()
	hh.Write(sd.Content)
	return sd.VerifyDigest(hh.Sum(nil), opts)
}

// VerifyDigest checks the first signer against the digest of the (detached)
// content, computed with Signers[0].Hash. The error is non-nil when the
// digest, the signature, the chain (if roots were given) or an embedded
// timestamp fails; Result is filled as far as verification got.
func (sd *SignedData) VerifyDigest(digest []byte, opts VerifyOptions) (*Result, error) {
	s := sd.Signers[0]
	res := &Result{Signer: s, Certificate: s.Certificate}
	if s.Certificate == nil {
		return res, ErrNoCertificate
	}
	if s.Hash == 0 || !s.Hash.Available() {
		return res, errors.New("cms: unsupported digest algorithm")
	}
	msg := digest
	if s.hasSignedAttr {
		res.DigestValid = bytes.Equal(s.MessageDigest, digest)
		if s.contentType != nil && !s.contentType.Equal(sd.ContentType) {
			return res, errors.New("cms: content-type attribute differs from encapsulated content type")
		}
		msg = s.signedAttrs
	} else {
		// Without signed attributes the signature is over the content itself,
		// which we only know by digest: only RSA/ECDSA can be checked.
		res.DigestValid = true
	}
	if err := checkSignature(s.Certificate, s, msg, !s.hasSignedAttr); err != nil {
		return res, err
	}
	res.SignatureValid = true
	if !res.DigestValid {
		return res, ErrDigestMismatch
	}

	res.VerifiedAt = opts.Time
	var tsErr error
	for _, raw := range s.TimestampTokens {
		tok, err := ParseTimestampToken(raw)
		if err == nil {
			err = tok.VerifySignatureValue(s.Signature, opts.Roots)
		}
		if err != nil && tsErr == nil {
			tsErr = err
		}
		if tok != nil {
			res.Timestamps = append(res.Timestamps, tok)
			if err == nil && res.VerifiedAt.IsZero() {
				res.VerifiedAt = tok.GenTime
			}
		}
	}
	res.TimestampErr = tsErr
	if res.VerifiedAt.IsZero() {
		res.VerifiedAt = s.SigningTime
	}
	if res.VerifiedAt.IsZero() {
		res.VerifiedAt = time.Now()
	}
	if opts.Roots != nil {
		res.Chains, res.ChainErr = verifyChain(s.Certificate, append(sd.Certificates, opts.Intermediates...), opts.Roots, res.VerifiedAt, opts.KeyUsages)
	}
	if res.ChainErr != nil {
		return res, fmt.Errorf("cms: certificate chain: %w", res.ChainErr)
	}
	if tsErr != nil {
		return res, fmt.Errorf("cms: signature timestamp: %w", tsErr)
	}
	return res, nil
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
// msgIsDigest) with cert's public key.
func checkSignature(cert *x509.Certificate, s *SignerInfo, msg []byte, msgIsDigest bool) error {
	hashed := func(h crypto.Hash) []byte {
		if msgIsDigest {
			return msg
		}
		hh := h.New()
		hh.Write(msg)
		return hh.Sum(nil)
	}
	var ok bool
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if s.sigAlg.Equal(oidRSAPSS) {
			if s.pssHash == 0 || !s.pssHash.Available() {
				return errors.New("cms: unsupported PSS hash")
			}
			ok = rsa.VerifyPSS(pub, s.pssHash, hashed(s.pssHash), s.Signature, &rsa.PSSOptions{SaltLength: s.pssSalt, Hash: s.pssHash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(pub, s.Hash, hashed(s.Hash), s.Signature) == nil
		}
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, hashed(s.Hash), s.Signature)
	case ed25519.PublicKey:
		if msgIsDigest {
			return errors.New("cms: Ed25519 without signed attributes is unsupported")
		}
		ok = ed25519.Verify(pub, msg, s.Signature)
	default:
		return fmt.Errorf("cms: unsupported public key %T", cert.PublicKey)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}
