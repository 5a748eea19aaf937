package person

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/vellum-sign/vellum/pkg/cms"
)

// Errors of proving possession of a certificate's key.
var (
	// ErrProofInvalid: the signature does not verify with the certificate's
	// key over the challenge.
	ErrProofInvalid = errors.New("the signature does not prove possession of the certificate's private key")
	// ErrChallengeInvalid: the challenge is unknown, used, expired or was
	// issued to someone else.
	ErrChallengeInvalid = errors.New("the challenge is unknown, expired or already used; request a new one")
	// ErrGOSTUnsupported: no GOST R 34.10 implementation is available to
	// verify a proof made with a GOST key.
	ErrGOSTUnsupported = errors.New("proofs made with GOST keys cannot be verified here: no GOST R 34.10 implementation is available; ask the integrator to link the certificate")
)

// verifyProof checks that sig, over challenge, was made with cert's key.
// sig is either CMS SignedData (attached, with the challenge as content, or
// detached) or a raw signature: RSA PKCS #1 v1.5 or PSS over SHA-256,
// ECDSA over SHA-256 (or SHA-384/SHA-512) in DER or as r‖s (WebCrypto),
// or Ed25519 over the challenge itself.
func verifyProof(cert *x509.Certificate, challenge, sig []byte) error {
	if IsGOST(cert) {
		return ErrGOSTUnsupported
	}
	if sd, err := cms.ParseSignedData(sig); err == nil {
		return verifyCMSProof(cert, challenge, sd)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		h := sha256.Sum256(challenge)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil ||
			rsa.VerifyPSS(pub, crypto.SHA256, h[:], sig, nil) == nil {
			return nil
		}
	case *ecdsa.PublicKey:
		for _, h := range digests(challenge) {
			if ecdsa.VerifyASN1(pub, h, sig) {
				return nil
			}
			if n := (pub.Curve.Params().BitSize + 7) / 8; len(sig) == 2*n {
				r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
				if ecdsa.Verify(pub, h, r, s) {
					return nil
				}
			}
		}
	case ed25519.PublicKey:
		if ed25519.Verify(pub, challenge, sig) {
			return nil
		}
	default:
		return fmt.Errorf("%w: keys of type %s are not supported", ErrProofInvalid, Algorithm(cert))
	}
	return ErrProofInvalid
}

func digests(msg []byte) [][]byte {
	a := sha256.Sum256(msg)
	b := sha512.Sum384(msg)
	c := sha512.Sum512(msg)
	return [][]byte{a[:], b[:], c[:]}
}

func verifyCMSProof(cert *x509.Certificate, challenge []byte, sd *cms.SignedData) error {
	if len(sd.Signers) != 1 {
		return fmt.Errorf("%w: the CMS signature must have exactly one signer", ErrProofInvalid)
	}
	s := sd.Signers[0]
	if s.Certificate != nil && !bytes.Equal(s.Certificate.Raw, cert.Raw) {
		return fmt.Errorf("%w: the CMS signature was made with another certificate", ErrProofInvalid)
	}
	// The signature must verify with this certificate's key, whether the
	// SignedData carries it or not.
	s.Certificate = cert
	var err error
	if sd.Content != nil {
		if !bytes.Equal(sd.Content, challenge) {
			return fmt.Errorf("%w: the signed content is not the challenge", ErrProofInvalid)
		}
		_, err = sd.Verify(cms.VerifyOptions{})
	} else {
		if s.Hash == 0 || !s.Hash.Available() {
			return fmt.Errorf("%w: unsupported digest algorithm", ErrProofInvalid)
		}
		h := s.Hash.New()
		h.Write(challenge)
		_, err = sd.VerifyDigest(h.Sum(nil), cms.VerifyOptions{})
	}
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrProofInvalid, err)
	}
	return nil
}
