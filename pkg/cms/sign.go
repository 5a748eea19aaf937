package cms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Timestamper obtains an RFC 3161 timestamp token for a digest. The returned
// bytes are the DER TimeStampToken (a ContentInfo wrapping SignedData).
// pkg/rfc3161.Client implements it.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// SignOptions controls how a SignedData is built.
type SignOptions struct {
	// Hash is the digest algorithm; SHA-256 when zero. SHA-256, SHA-384 and
	// SHA-512 are supported (Ed25519 keys always use SHA-512).
	Hash crypto.Hash
	// PSS selects RSASSA-PSS (salt length = hash length) for RSA keys instead
	// of PKCS#1 v1.5.
	PSS bool
	// Timestamper, when set, adds an RFC 3161 signature timestamp token over
	// the signature value as the unsigned attribute
	// id-aa-signatureTimeStampToken (CAdES-T / PAdES B-T).
	Timestamper Timestamper
	// ContentType is the encapsulated content type; id-data when nil.
	ContentType asn1.ObjectIdentifier
	// SigningTime adds the signing-time attribute when non-zero. PAdES
	// forbids it (the time lives in the PDF), so leave it zero there.
	SigningTime time.Time
	// OmitCertificates leaves the certificates out (an RFC 3161 token whose
	// request did not set certReq); the signing-certificate-v2 attribute
	// still names the signer's.
	OmitCertificates bool
}

func (o SignOptions) hash() crypto.Hash {
	if o.Hash == 0 {
		return crypto.SHA256
	}
	return o.Hash
}

// SignDetached builds a detached SignedData over content whose digest has
// already been computed with opts.Hash. chain[0] is the signer's certificate;
// the remaining certificates (intermediates) are embedded too. The signed
// attributes are content-type, message-digest and signing-certificate-v2
// (RFC 5035), as PAdES baseline signatures require.
func SignDetached(ctx context.Context, digest []byte, signer crypto.Signer, chain []*x509.Certificate, opts SignOptions) ([]byte, error) {
	return build(ctx, digest, nil, signer, chain, opts)
}

// SignData builds a SignedData over data, embedding the data when attached is
// true (PKCS#7 "attached") and leaving it out otherwise.
func SignData(ctx context.Context, data []byte, attached bool, signer crypto.Signer, chain []*x509.Certificate, opts SignOptions) ([]byte, error) {
	h := opts.hash()
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		h = crypto.SHA512
	}
	if !h.Available() {
		return nil, fmt.Errorf("cms: hash %v unavailable", h)
	}
	hh := h.New()
	hh.Write(data)
	opts.Hash = h
	var content []byte
	if attached {
		content = data
		if content == nil {
			content = []byte{}
		}
	}
	return build(ctx, hh.Sum(nil), content, signer, chain, opts)
}

// SignPKCS1 returns a raw RSA PKCS#1 v1.5 signature over a precomputed digest.
func SignPKCS1(signer crypto.Signer, digest []byte, h crypto.Hash) ([]byte, error) {
	if _, ok := signer.Public().(*rsa.PublicKey); !ok {
		return nil, errors.New("cms: PKCS#1 signature needs an RSA key")
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("cms: digest is %d bytes, %v needs %d", len(digest), h, h.Size())
	}
	return signer.Sign(rand.Reader, digest, h)
}

func build(ctx context.Context, digest, content []byte, signer crypto.Signer, chain []*x509.Certificate, opts SignOptions) ([]byte, error) {
	p, err := prepare(digest, signer.Public(), chain, opts)
	if err != nil {
		return nil, err
	}
	sigAlg, sig, err := signAttributes(signer, p.attrs, p.h, opts.PSS)
	if err != nil {
		return nil, err
	}
	var unsigned []byte
	if opts.Timestamper != nil {
		// The token is over the signature value (ETSI EN 319 122-1 5.3), hashed
		// with the signature's digest algorithm.
		sh := p.h.New()
		sh.Write(sig)
		tok, err := opts.Timestamper.Timestamp(ctx, sh.Sum(nil), p.h)
		if err != nil {
			return nil, fmt.Errorf("cms: signature timestamp: %w", err)
		}
		if _, err := ParseSignedData(tok); err != nil {
			return nil, fmt.Errorf("cms: timestamp token: %w", err)
		}
		unsigned = attribute(OIDAttrTimeStampToken, tok)
	}
	return assemble(p, content, chain, sigAlg, sig, unsigned, opts)
}

// EstimateDetachedSize returns the size that SignDetached's output will not
// exceed for a signer with public key pub, chain and opts, when the
// signature timestamp token (if opts.Timestamper is set) is tokenLen bytes.
// It performs no key operation: the signature is assumed to be the longest
// the key can make. PDF signers use it to reserve /Contents.
func EstimateDetachedSize(pub crypto.PublicKey, chain []*x509.Certificate, opts SignOptions, tokenLen int) (int, error) {
	h := opts.hash()
	if _, ok := pub.(ed25519.PublicKey); ok {
		h = crypto.SHA512
	}
	if !h.Available() {
		return 0, fmt.Errorf("cms: hash %v unavailable", h)
	}
	p, err := prepare(make([]byte, h.Size()), pub, chain, opts)
	if err != nil {
		return 0, err
	}
	sigAlg, sig, err := signAttributes(longestSigner{pub}, p.attrs, p.h, opts.PSS)
	if err != nil {
		return 0, err
	}
	var unsigned []byte
	if opts.Timestamper != nil {
		unsigned = attribute(OIDAttrTimeStampToken, make([]byte, tokenLen))
	}
	der, err := assemble(p, nil, chain, sigAlg, sig, unsigned, opts)
	return len(der), err
}

// longestSigner "signs" with the longest signature value pub can produce.
type longestSigner struct{ pub crypto.PublicKey }

func (l longestSigner) Public() crypto.PublicKey { return l.pub }

func (l longestSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	switch k := l.pub.(type) {
	case *rsa.PublicKey:
		return make([]byte, k.Size()), nil
	case *ecdsa.PublicKey:
		// SEQUENCE of two INTEGERs, each at most a leading zero longer than
		// the order.
		n := (k.Curve.Params().BitSize + 7) / 8
		body := 2 * (2 + n + 1)
		if body < 128 {
			return make([]byte, 2+body), nil
		}
		return make([]byte, 3+body), nil
	case ed25519.PublicKey:
		return make([]byte, ed25519.SignatureSize), nil
	}
	return nil, fmt.Errorf("cms: unsupported key type %T", l.pub)
}

// prepared is what a SignedData needs before its signature: the checked
// algorithm choices and the DER signed attributes.
type prepared struct {
	h     crypto.Hash
	hOID  asn1.ObjectIdentifier
	ct    asn1.ObjectIdentifier
	cert  *x509.Certificate
	attrs []byte
}

func prepare(digest []byte, pub crypto.PublicKey, chain []*x509.Certificate, opts SignOptions) (*prepared, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cms: signer certificate missing")
	}
	h := opts.hash()
	if _, ok := pub.(ed25519.PublicKey); ok {
		h = crypto.SHA512
	}
	hOID, ok := hashOID(h)
	if !ok || h == crypto.SHA1 {
		return nil, fmt.Errorf("cms: unsupported hash %v", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("cms: digest is %d bytes, %v needs %d", len(digest), h, h.Size())
	}
	ct := opts.ContentType
	if ct == nil {
		ct = OIDData
	}
	cert := chain[0]
	if !publicKeysEqual(cert.PublicKey, pub) {
		return nil, errors.New("cms: signer key does not match certificate")
	}
	attrs, err := signedAttributes(ct, digest, cert, opts.SigningTime)
	if err != nil {
		return nil, err
	}
	return &prepared{h: h, hOID: hOID, ct: ct, cert: cert, attrs: attrs}, nil
}

// assemble encodes the ContentInfo around a finished signature.
func assemble(p *prepared, content []byte, chain []*x509.Certificate, sigAlg, sig, unsigned []byte, opts SignOptions) ([]byte, error) {
	attrs, cert, ct, hOID := p.attrs, p.cert, p.ct, p.hOID
	// Sized up front so that the nested length prefixes never regrow it.
	est := 256 + len(attrs) + len(sigAlg) + len(sig) + len(content) + len(unsigned) + len(cert.RawIssuer) + len(cert.SerialNumber.Bytes())
	for _, c := range chain {
		if c != nil {
			est += len(c.Raw)
		}
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, est))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				version := int64(1)
				if !ct.Equal(OIDData) {
					version = 3
				}
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					addAlgorithm(b, hOID, false)
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(ct)
					if content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(content)
						})
					}
				})
				if !opts.OmitCertificates {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						// Duplicates are dropped; chains are short, so comparing
						// with the earlier entries beats hashing each certificate.
					next:
						for i, c := range chain {
							if c == nil {
								continue
							}
							for _, p := range chain[:i] {
								if p != nil && bytes.Equal(p.Raw, c.Raw) {
									continue next
								}
							}
							b.AddBytes(c.Raw)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						addIssuerAndSerial(b, cert)
						addAlgorithm(b, hOID, false)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrs)
						})
						b.AddBytes(sigAlg)
						b.AddASN1OctetString(sig)
						if unsigned != nil {
							b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(unsigned)
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// signedAttributes returns the DER content (without the SET header) of the
// signed attributes, sorted as DER requires for SET OF.
func signedAttributes(ct asn1.ObjectIdentifier, digest []byte, cert *x509.Certificate, signingTime time.Time) ([]byte, error) {
	// The same DER that encoding/asn1 produces, without its reflection.
	var ctb, mdb cryptobyte.Builder
	ctb.AddASN1ObjectIdentifier(ct)
	ctDER, err := ctb.Bytes()
	if err != nil {
		return nil, fmt.Errorf("cms: content type: %w", err)
	}
	mdb.AddASN1OctetString(digest)
	list := [][]byte{
		attribute(OIDAttrContentType, ctDER),
		attribute(OIDAttrMessageDigest, mdb.BytesOrPanic()),
		attribute(OIDAttrSigningCertV2, signingCertificateV2(cert)),
	}
	if !signingTime.IsZero() {
		t := signingTime.UTC()
		var tDER []byte
		if t.Year() >= 1950 && t.Year() < 2050 {
			tDER, err = asn1.MarshalWithParams(t, "utc")
		} else {
			tDER, err = asn1.MarshalWithParams(t, "generalized")
		}
		if err != nil {
			return nil, err
		}
		list = append(list, attribute(OIDAttrSigningTime, tDER))
	}
	slices.SortFunc(list, bytes.Compare)
	return bytes.Join(list, nil), nil
}

// attribute encodes Attribute ::= SEQUENCE { attrType, attrValues SET OF }.
func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	})
	return b.BytesOrPanic()
}

// signingCertificateV2 encodes the ESS SigningCertificateV2 (RFC 5035) with
// one ESSCertIDv2 using SHA-256, whose AlgorithmIdentifier is the DEFAULT and
// therefore omitted.
func signingCertificateV2(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(sum[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	return b.BytesOrPanic()
}

func addIssuerAndSerial(b *cryptobyte.Builder, cert *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, nullParams bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
}

// signAttributes signs the DER SET OF signed attributes and returns the
// encoded signature AlgorithmIdentifier and the signature value.
func signAttributes(signer crypto.Signer, attrs []byte, h crypto.Hash, pss bool) ([]byte, []byte, error) {
	set := cryptobyte.NewBuilder(nil)
	set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	msg := set.BytesOrPanic()

	alg := cryptobyte.NewBuilder(nil)
	var sig []byte
	var err error
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		addAlgorithm(alg, oidEd25519, false)
		sig, err = signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case *rsa.PublicKey:
		hh := h.New()
		hh.Write(msg)
		if pss {
			hOID, _ := hashOID(h)
			alg.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidRSAPSS)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						addAlgorithm(b, hOID, true)
					})
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidMGF1)
							addAlgorithm(b, hOID, true)
						})
					})
					b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1Int64(int64(h.Size()))
					})
				})
			})
			sig, err = signer.Sign(rand.Reader, hh.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		} else {
			// rsaEncryption (with the digest algorithm named separately) is
			// what every PAdES validator accepts.
			addAlgorithm(alg, oidRSAEncryption, true)
			sig, err = signer.Sign(rand.Reader, hh.Sum(nil), h)
		}
	case *ecdsa.PublicKey:
		hh := h.New()
		hh.Write(msg)
		switch h {
		case crypto.SHA256:
			addAlgorithm(alg, oidECDSAWithSHA256, false)
		case crypto.SHA384:
			addAlgorithm(alg, oidECDSAWithSHA384, false)
		default:
			addAlgorithm(alg, oidECDSAWithSHA512, false)
		}
		sig, err = signer.Sign(rand.Reader, hh.Sum(nil), h)
	default:
		return nil, nil, fmt.Errorf("cms: unsupported key type %T", signer.Public())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cms: sign: %w", err)
	}
	return alg.BytesOrPanic(), sig, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}
