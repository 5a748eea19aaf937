package pki

import (
	"bytes"
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
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

const (
	// ocspValidity is the nextUpdate horizon of OCSP responses.
	ocspValidity = time.Hour
	// ocspRefresh is how long a signed response is served again before a
	// new one is produced. Revocations through this PKI drop the cached
	// responses at once; another instance sharing the store shows them
	// within this time, as with CRLs.
	ocspRefresh = 5 * time.Minute
	// maxCachedOCSP bounds the response cache (one entry per certificate
	// asked about within ocspRefresh).
	maxCachedOCSP = 10000
)

var (
	oidOCSPBasic        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidECDSAWithSHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidHashSHA1         = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidHashSHA256       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidHashSHA384       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidHashSHA512       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	errNotAuthoritative = errors.New("pki: not the issuer of this certificate")
)

// ocspAnswer is a signed OCSP response and the times HTTP caching needs.
type ocspAnswer struct {
	der        []byte
	producedAt time.Time
	nextUpdate time.Time // zero for error responses, which are never cached
}

// certID names a certificate the way an OCSP request does.
type certID struct {
	hash           crypto.Hash
	issuerNameHash []byte
	issuerKeyHash  []byte
	serial         *big.Int
}

// OCSP answers a DER OCSP request with a DER OCSP response signed by the
// CA that issued the certificate asked about: the issuing CA for the
// certificates it issued, the root (when its key is loaded) for the issuing
// CA. Request nonces are not echoed (RFC 8954 leaves nonce support to the
// responder, and RFC 5019 responders omit them so that responses can be
// cached; openssl only warns). Requests the responder cannot answer get the
// OCSP error responses of RFC 6960 §2.3 rather than a Go error; the error is
// reserved for failures of the store or the signing key.
func (p *PKI) OCSP(ctx context.Context, reqDER []byte) ([]byte, error) {
	a, err := p.answer(ctx, reqDER)
	return a.der, err
}

func (p *PKI) answer(ctx context.Context, reqDER []byte) (ocspAnswer, error) {
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return ocspAnswer{der: ocsp.MalformedRequestErrorResponse}, nil
	}
	a, err := p.respond(ctx, certID{hash: req.HashAlgorithm, issuerNameHash: req.IssuerNameHash,
		issuerKeyHash: req.IssuerKeyHash, serial: req.SerialNumber})
	if errors.Is(err, errNotAuthoritative) {
		return ocspAnswer{der: ocsp.UnauthorizedErrorResponse}, nil
	}
	return a, err
}

// ocspFor returns the current OCSP response for cert, which must have been
// issued by the issuing CA (or be the issuing CA, when the root key is
// loaded): what a DSS embeds, without a round trip through HTTP.
func (p *PKI) ocspFor(ctx context.Context, cert *x509.Certificate) ([]byte, error) {
	issuer := p.m.Issuing
	if cert.Equal(p.m.Issuing) {
		issuer = p.m.Root
	}
	keyHash, err := publicKeyHash(crypto.SHA1, issuer)
	if err != nil {
		return nil, err
	}
	a, err := p.respond(ctx, certID{hash: crypto.SHA1, issuerNameHash: hashOf(crypto.SHA1, issuer.RawSubject),
		issuerKeyHash: keyHash, serial: cert.SerialNumber})
	if err != nil {
		return nil, err
	}
	return a.der, nil
}

// respond produces (or reuses) the signed response for id. Every response
// has producedAt = thisUpdate, to the second, and a nextUpdate: NSS rejects
// a response claiming to be produced before the status it reports.
func (p *PKI) respond(ctx context.Context, id certID) (ocspAnswer, error) {
	issuer, key, err := p.responderFor(id)
	if err != nil {
		return ocspAnswer{}, err
	}
	now := p.now().UTC().Truncate(time.Second)
	cacheKey := fmt.Sprintf("%s/%d/%x", issuer.Subject.CommonName, id.hash, id.serial)
	p.ocspMu.Lock()
	if c, ok := p.ocspCache[cacheKey]; ok && !now.Before(c.producedAt) && now.Sub(c.producedAt) < ocspRefresh {
		p.ocspMu.Unlock()
		return c, nil
	}
	p.ocspMu.Unlock()

	st := singleStatus{status: ocsp.Unknown}
	if issuer == p.m.Root {
		// The root signs only the issuing CA through Vellum, and revokes
		// it offline (root CRL), not here.
		if id.serial.Cmp(p.m.Issuing.SerialNumber) == 0 {
			st.status = ocsp.Good
		}
	} else {
		entry, err := p.store.Status(ctx, id.serial)
		switch {
		case errors.Is(err, ErrNotFound):
			// unknown: never issued here, or issued before a store reset
		case err != nil:
			return ocspAnswer{}, fmt.Errorf("pki: ocsp status of %s: %w", id.serial.Text(16), err)
		case entry.Revoked():
			st = singleStatus{status: ocsp.Revoked, revokedAt: entry.RevokedAt, reason: entry.Reason}
		default:
			st.status = ocsp.Good
		}
	}
	a := ocspAnswer{producedAt: now, nextUpdate: now.Add(ocspValidity)}
	if a.der, err = buildOCSPResponse(issuer, key, id, st, now, a.nextUpdate); err != nil {
		return ocspAnswer{}, err
	}
	p.ocspMu.Lock()
	if len(p.ocspCache) >= maxCachedOCSP {
		for k, c := range p.ocspCache {
			if now.Sub(c.producedAt) >= ocspRefresh || now.Before(c.producedAt) {
				delete(p.ocspCache, k)
			}
		}
		if len(p.ocspCache) >= maxCachedOCSP {
			clear(p.ocspCache)
		}
	}
	p.ocspCache[cacheKey] = a
	p.ocspMu.Unlock()
	return a, nil
}

// responderFor picks the CA whose name and key the CertID hashes, hashed
// with whatever algorithm the client chose.
func (p *PKI) responderFor(id certID) (*x509.Certificate, crypto.Signer, error) {
	if !id.hash.Available() {
		return nil, nil, errNotAuthoritative
	}
	for _, ca := range []struct {
		cert *x509.Certificate
		key  crypto.Signer
	}{{p.m.Issuing, p.m.IssuingKey}, {p.m.Root, p.m.RootKey}} {
		if ca.key == nil {
			continue
		}
		kh, err := publicKeyHash(id.hash, ca.cert)
		if err != nil {
			continue
		}
		if bytes.Equal(hashOf(id.hash, ca.cert.RawSubject), id.issuerNameHash) && bytes.Equal(kh, id.issuerKeyHash) {
			return ca.cert, ca.key, nil
		}
	}
	return nil, nil, errNotAuthoritative
}

// publicKeyHash hashes the subjectPublicKey bits of cert, as CertIDs do.
func publicKeyHash(h crypto.Hash, cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("pki: public key of %q: %w", cert.Subject.CommonName, err)
	}
	return hashOf(h, spki.PublicKey.RightAlign()), nil
}

func hashOf(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

type singleStatus struct {
	status    int // ocsp.Good, ocsp.Revoked or ocsp.Unknown
	revokedAt time.Time
	reason    int
}

// buildOCSPResponse encodes and signs a BasicOCSPResponse (RFC 6960 §4.2.1)
// with one SingleResponse. golang.org/x/crypto/ocsp cannot be used to write
// it: it stamps producedAt with the wall clock rounded down to the minute,
// earlier than the thisUpdate it is given.
func buildOCSPResponse(issuer *x509.Certificate, key crypto.Signer, id certID, st singleStatus, now, nextUpdate time.Time) ([]byte, error) {
	hashOID, ok := map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1: oidHashSHA1, crypto.SHA256: oidHashSHA256, crypto.SHA384: oidHashSHA384, crypto.SHA512: oidHashSHA512,
	}[id.hash]
	if !ok {
		return nil, fmt.Errorf("pki: ocsp: unsupported CertID hash %v", id.hash)
	}
	sigHash, sigOID, rsaNull, err := signatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	responderKey, err := publicKeyHash(crypto.SHA1, issuer)
	if err != nil {
		return nil, err
	}
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseData
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(responderKey) // responderID byKey
		})
		b.AddASN1GeneralizedTime(now)                            // producedAt
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // responses
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SingleResponse
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertID
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(hashOID)
						b.AddASN1NULL()
					})
					b.AddASN1OctetString(id.issuerNameHash)
					b.AddASN1OctetString(id.issuerKeyHash)
					b.AddASN1BigInt(id.serial)
				})
				switch st.status {
				case ocsp.Good:
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				case ocsp.Revoked:
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(st.revokedAt.UTC().Truncate(time.Second))
						if st.reason != 0 { // unspecified is expressed by leaving it out
							b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1Enum(int64(st.reason))
							})
						}
					})
				default:
					b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
				}
				b.AddASN1GeneralizedTime(now) // thisUpdate
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1GeneralizedTime(nextUpdate)
				})
			})
		})
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pki: encode ocsp response: %w", err)
	}
	sig, err := key.Sign(rand.Reader, hashOf(sigHash, tbsDER), sigHash)
	if err != nil {
		return nil, fmt.Errorf("pki: sign ocsp response: %w", err)
	}
	var basic cryptobyte.Builder
	basic.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(sigOID)
			if rsaNull {
				b.AddASN1NULL()
			}
		})
		b.AddASN1BitString(sig)
	})
	basicDER, err := basic.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pki: encode ocsp response: %w", err)
	}
	var resp cryptobyte.Builder
	resp.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPResponse
		b.AddASN1Enum(0) // successful
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseBytes
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1OctetString(basicDER)
			})
		})
	})
	der, err := resp.Bytes()
	if err != nil {
		return nil, fmt.Errorf("pki: encode ocsp response: %w", err)
	}
	return der, nil
}

// signatureAlgorithm is the digest and signature algorithm a CA key signs
// responses with, as x509.CreateCertificate would choose them.
func signatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, asn1.ObjectIdentifier, bool, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, oidECDSAWithSHA256, false, nil
		case elliptic.P384():
			return crypto.SHA384, oidECDSAWithSHA384, false, nil
		case elliptic.P521():
			return crypto.SHA512, oidECDSAWithSHA512, false, nil
		}
	case *rsa.PublicKey:
		return crypto.SHA256, oidSHA256WithRSA, true, nil
	}
	return 0, nil, false, fmt.Errorf("pki: ocsp: unsupported CA key type %T", pub)
}
