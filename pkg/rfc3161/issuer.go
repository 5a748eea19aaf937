package rfc3161

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/vellum-sign/vellum/pkg/cms"
)

// Issuer signs time-stamp tokens: the cryptographic half of a TSA. The
// HTTP half, and the decision whether a request is acceptable, belong to
// the server that uses it.
type Issuer struct {
	Cert     *x509.Certificate   // TSA certificate, EKU timeStamping (critical)
	Key      crypto.Signer       // its private key; ECDSA or RSA (PKCS #1 v1.5)
	Chain    []*x509.Certificate // intermediates embedded after Cert on certReq
	Policy   x509.OID            // TSA policy written into every token
	Accuracy time.Duration       // written into every token; zero omits it
	Hash     crypto.Hash         // signature digest; zero means SHA-256
}

// Issue returns a DER TimeStampToken for req at genTime (truncated to the
// second), with a fresh random 128-bit serial number, signed through package
// cms with the signed attributes RFC 3161 and RFC 5816 ask for (content-type,
// message-digest, signing-certificate-v2). The certificates are embedded
// only when req.CertReq is set, as RFC 3161 §2.4.1 prescribes. ctx bounds
// the signature, which may be an HSM's.
func (is *Issuer) Issue(ctx context.Context, req *Request, genTime time.Time) ([]byte, error) {
	if err := checkHash(req.HashAlgorithm, req.Digest); err != nil {
		return nil, fmt.Errorf("issue time-stamp token: %w", err)
	}
	if is.Cert == nil || is.Key == nil {
		return nil, fmt.Errorf("issue time-stamp token: issuer has no certificate or key")
	}
	if is.Policy.Equal(x509.OID{}) {
		return nil, fmt.Errorf("issue time-stamp token: issuer has no policy")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp token: serial: %w", err)
	}
	tst, err := is.tstInfo(req, genTime, serial)
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp token: %w", err)
	}
	h := is.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	chain := append([]*x509.Certificate{is.Cert}, is.Chain...)
	tok, err := cms.SignData(ctx, tst, true, is.Key, chain, cms.SignOptions{
		Hash: h, ContentType: cms.OIDTSTInfo, OmitCertificates: !req.CertReq,
	})
	if err != nil {
		return nil, fmt.Errorf("issue time-stamp token: %w", err)
	}
	return tok, nil
}

func (is *Issuer) tstInfo(req *Request, genTime time.Time, serial *big.Int) ([]byte, error) {
	policy, err := is.Policy.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(policy) })
		addMessageImprint(b, req.HashAlgorithm, req.Digest)
		b.AddASN1BigInt(serial)
		b.AddASN1GeneralizedTime(genTime.UTC().Truncate(time.Second))
		if is.Accuracy > 0 {
			addAccuracy(b, is.Accuracy)
		}
		if req.Nonce != nil {
			b.AddASN1BigInt(req.Nonce)
		}
		b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { // tsa [0] GeneralName
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(is.Cert.RawSubject) // directoryName
			})
		})
	})
	return b.Bytes()
}

func addAccuracy(b *cryptobyte.Builder, d time.Duration) {
	sec := int64(d / time.Second)
	ms := int64(d % time.Second / time.Millisecond)
	us := int64(d % time.Millisecond / time.Microsecond)
	if sec == 0 && ms == 0 && us == 0 {
		us = 1 // sub-microsecond accuracy still needs a non-empty field
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if sec > 0 {
			b.AddASN1Int64(sec)
		}
		if ms > 0 {
			b.AddASN1Int64WithTag(ms, cbasn1.Tag(0).ContextSpecific())
		}
		if us > 0 {
			b.AddASN1Int64WithTag(us, cbasn1.Tag(1).ContextSpecific())
		}
	})
}
