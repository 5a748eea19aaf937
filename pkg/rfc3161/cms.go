package rfc3161

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// signedData is the subset of a CMS SignedData (RFC 5652) that a
// time-stamp token needs: one signer over an encapsulated TSTInfo.
type signedData struct {
	eContentType asn1.ObjectIdentifier
	eContent     []byte
	certs        []*x509.Certificate
	signer       signerInfo
}

type signerInfo struct {
	issuer      []byte // raw Name of IssuerAndSerialNumber
	serial      *big.Int
	ski         []byte // SubjectKeyIdentifier form of the sid
	digestAlg   crypto.Hash
	signedAttrs []byte // contents of [0] IMPLICIT SignedAttributes
	sigAlg      asn1.ObjectIdentifier
	signature   []byte
}

var (
	// tagCtx0 and tagCtx1 are constructed [0] and [1], explicit or implicit.
	tagCtx0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1 = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagSKI  = cbasn1.Tag(0).ContextSpecific()
)

// parseSignedData decodes a ContentInfo holding a SignedData with exactly
// one SignerInfo, as RFC 3161 §2.4.2 requires of a TimeStampToken.
func parseSignedData(der []byte) (*signedData, error) {
	input := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !input.ReadASN1(&ci, cbasn1.SEQUENCE) || !input.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ct) || !ci.ReadASN1(&content, tagCtx0) || !ci.Empty() {
		return nil, fmt.Errorf("%w: token is not a DER ContentInfo", ErrMalformed)
	}
	if !ct.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: token content type %v is not signedData", ErrMalformed, ct)
	}
	if !content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, fmt.Errorf("%w: SignedData", ErrMalformed)
	}
	var version int64
	var eci, eContent, certs, signerInfos cryptobyte.String
	var hasEContent, hasCerts bool
	out := &signedData{}
	if !sd.ReadASN1Integer(&version) || !sd.SkipASN1(cbasn1.SET) ||
		!sd.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&out.eContentType) ||
		!eci.ReadOptionalASN1(&eContent, &hasEContent, tagCtx0) || !eci.Empty() ||
		!sd.ReadOptionalASN1(&certs, &hasCerts, tagCtx0) ||
		!sd.SkipOptionalASN1(tagCtx1) ||
		!sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, fmt.Errorf("%w: SignedData fields", ErrMalformed)
	}
	if !hasEContent || !eContent.ReadASN1Bytes(&out.eContent, cbasn1.OCTET_STRING) || !eContent.Empty() {
		return nil, fmt.Errorf("%w: SignedData has no DER encapsulated content", ErrMalformed)
	}
	for hasCerts && !certs.Empty() {
		var tag cbasn1.Tag
		var el cryptobyte.String
		if !certs.ReadAnyASN1Element(&el, &tag) {
			return nil, fmt.Errorf("%w: certificate set", ErrMalformed)
		}
		if tag != cbasn1.SEQUENCE {
			continue // attribute or other certificate formats: not ours to use
		}
		c, err := x509.ParseCertificate(el)
		if err != nil {
			return nil, fmt.Errorf("%w: embedded certificate: %v", ErrMalformed, err)
		}
		out.certs = append(out.certs, c)
	}
	var si cryptobyte.String
	if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) || !signerInfos.Empty() {
		return nil, fmt.Errorf("%w: a time-stamp token needs exactly one SignerInfo", ErrMalformed)
	}
	if err := out.signer.parse(si); err != nil {
		return nil, err
	}
	return out, nil
}

func (si *signerInfo) parse(s cryptobyte.String) error {
	var version int64
	if !s.ReadASN1Integer(&version) {
		return fmt.Errorf("%w: SignerInfo version", ErrMalformed)
	}
	if s.PeekASN1Tag(cbasn1.SEQUENCE) {
		var ias, name cryptobyte.String
		si.serial = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.serial) || !ias.Empty() {
			return fmt.Errorf("%w: SignerInfo issuerAndSerialNumber", ErrMalformed)
		}
		si.issuer = name
	} else if !s.ReadASN1Bytes(&si.ski, tagSKI) {
		return fmt.Errorf("%w: SignerInfo sid", ErrMalformed)
	}
	digestOID, ok := readAlgorithm(&s)
	if !ok {
		return fmt.Errorf("%w: SignerInfo digest algorithm", ErrMalformed)
	}
	if si.digestAlg, ok = hashFromOID(digestOID); !ok {
		return fmt.Errorf("%w: SignerInfo digest %v", ErrUnsupportedHash, digestOID)
	}
	var attrs cryptobyte.String
	var hasAttrs bool
	if !s.ReadOptionalASN1(&attrs, &hasAttrs, tagCtx0) || !hasAttrs {
		return fmt.Errorf("%w: SignerInfo has no signed attributes", ErrMalformed)
	}
	si.signedAttrs = attrs
	if si.sigAlg, ok = readAlgorithm(&s); !ok || !s.ReadASN1Bytes(&si.signature, cbasn1.OCTET_STRING) ||
		!s.SkipOptionalASN1(tagCtx1) || !s.Empty() {
		return fmt.Errorf("%w: SignerInfo signature", ErrMalformed)
	}
	return nil
}

// signerCert finds the certificate the SignerInfo names.
func (sd *signedData) signerCert() *x509.Certificate {
	for _, c := range sd.certs {
		if sd.signer.ski != nil && bytes.Equal(c.SubjectKeyId, sd.signer.ski) {
			return c
		}
		if sd.signer.serial != nil && c.SerialNumber.Cmp(sd.signer.serial) == 0 &&
			bytes.Equal(c.RawIssuer, sd.signer.issuer) {
			return c
		}
	}
	return nil
}

// attributes returns the first value of each signed attribute by OID.
func (si *signerInfo) attributes() (map[string][]byte, error) {
	attrs := map[string][]byte{}
	s := cryptobyte.String(si.signedAttrs)
	for !s.Empty() {
		var attr, values, first cryptobyte.String
		var oid asn1.ObjectIdentifier
		var tag cbasn1.Tag
		if !s.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !values.ReadAnyASN1Element(&first, &tag) {
			return nil, fmt.Errorf("%w: signed attribute", ErrMalformed)
		}
		if _, dup := attrs[oid.String()]; dup {
			return nil, fmt.Errorf("%w: duplicate signed attribute %v", ErrMalformed, oid)
		}
		attrs[oid.String()] = first
	}
	return attrs, nil
}

// verify checks the SignerInfo against cert: content type, message digest,
// the ESS signing-certificate binding and the signature itself.
func (sd *signedData) verify(cert *x509.Certificate) error {
	si := &sd.signer
	attrs, err := si.attributes()
	if err != nil {
		return err
	}
	ctAttr := cryptobyte.String(attrs[oidAttrContentType.String()])
	var ct asn1.ObjectIdentifier
	if !ctAttr.ReadASN1ObjectIdentifier(&ct) || !ct.Equal(sd.eContentType) {
		return fmt.Errorf("%w: content-type attribute missing or wrong", ErrBadSignature)
	}
	mdAttr := cryptobyte.String(attrs[oidAttrMessageDigest.String()])
	var md []byte
	if !mdAttr.ReadASN1Bytes(&md, cbasn1.OCTET_STRING) {
		return fmt.Errorf("%w: message-digest attribute missing", ErrBadSignature)
	}
	h := si.digestAlg.New()
	h.Write(sd.eContent)
	if !bytes.Equal(md, h.Sum(nil)) {
		return fmt.Errorf("%w: message-digest attribute does not match the TSTInfo", ErrBadSignature)
	}
	if err := checkSigningCertificate(attrs, cert); err != nil {
		return err
	}
	alg, err := signatureAlgorithm(si.sigAlg, si.digestAlg, cert.PublicKey)
	if err != nil {
		return err
	}
	// The signature covers the attributes DER-encoded with the SET tag,
	// not the [0] IMPLICIT tag they carry inside SignerInfo (RFC 5652 §5.4).
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(si.signedAttrs) })
	signed, err := b.Bytes()
	if err != nil {
		return fmt.Errorf("re-encode signed attributes: %w", err)
	}
	if err := cert.CheckSignature(alg, signed, si.signature); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}

// checkSigningCertificate enforces the ESS attribute RFC 3161 requires: it
// binds the signature to one certificate so a different certificate with
// the same key cannot be substituted.
func checkSigningCertificate(attrs map[string][]byte, cert *x509.Certificate) error {
	if v2, ok := attrs[oidAttrSigningCertificateV2.String()]; ok {
		s := cryptobyte.String(v2)
		var seq, ids, id cryptobyte.String
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&ids, cbasn1.SEQUENCE) ||
			!ids.ReadASN1(&id, cbasn1.SEQUENCE) {
			return fmt.Errorf("%w: signing-certificate-v2 attribute", ErrMalformed)
		}
		h := crypto.SHA256 // DEFAULT id-sha256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, ok := readAlgorithm(&id)
			if !ok {
				return fmt.Errorf("%w: signing-certificate-v2 hash algorithm", ErrMalformed)
			}
			if h, ok = hashFromOID(oid); !ok {
				return fmt.Errorf("%w: signing-certificate-v2 hash %v", ErrUnsupportedHash, oid)
			}
		}
		var certHash []byte
		if !id.ReadASN1Bytes(&certHash, cbasn1.OCTET_STRING) {
			return fmt.Errorf("%w: signing-certificate-v2 hash", ErrMalformed)
		}
		d := h.New()
		d.Write(cert.Raw)
		if !bytes.Equal(certHash, d.Sum(nil)) {
			return fmt.Errorf("%w: signing-certificate-v2 does not name the signer certificate", ErrBadSignature)
		}
		return nil
	}
	if v1, ok := attrs[oidAttrSigningCertificate.String()]; ok {
		s := cryptobyte.String(v1)
		var seq, ids, id cryptobyte.String
		var certHash []byte
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&ids, cbasn1.SEQUENCE) ||
			!ids.ReadASN1(&id, cbasn1.SEQUENCE) || !id.ReadASN1Bytes(&certHash, cbasn1.OCTET_STRING) {
			return fmt.Errorf("%w: signing-certificate attribute", ErrMalformed)
		}
		// SHA-1 here only identifies a certificate we already hold; it is
		// what RFC 2634 mandates for this attribute version.
		sum := sha1.Sum(cert.Raw)
		if !bytes.Equal(certHash, sum[:]) {
			return fmt.Errorf("%w: signing-certificate does not name the signer certificate", ErrBadSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: no ESS signing-certificate attribute", ErrBadSignature)
}

// signatureAlgorithm maps a CMS signatureAlgorithm to x509's, given the
// SignerInfo digest (rsaEncryption and bare id-ecPublicKey leave it there).
func signatureAlgorithm(oid asn1.ObjectIdentifier, h crypto.Hash, pub any) (x509.SignatureAlgorithm, error) {
	byHash := func(algs map[crypto.Hash]x509.SignatureAlgorithm) (x509.SignatureAlgorithm, error) {
		if a, ok := algs[h]; ok {
			return a, nil
		}
		return 0, fmt.Errorf("%w: %v with %v", ErrUnsupportedHash, oid, h)
	}
	rsaAlgs := map[crypto.Hash]x509.SignatureAlgorithm{
		crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}
	ecAlgs := map[crypto.Hash]x509.SignatureAlgorithm{
		crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}
	pssAlgs := map[crypto.Hash]x509.SignatureAlgorithm{
		crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA384: x509.SHA384WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS}
	switch {
	case oid.Equal(oidRSAEncryption):
		return byHash(rsaAlgs)
	case oid.Equal(oidRSAPSS):
		return byHash(pssAlgs)
	case oid.Equal(oidECPublicKey):
		return byHash(ecAlgs)
	}
	named := []struct {
		oid  asn1.ObjectIdentifier
		alg  x509.SignatureAlgorithm
		hash crypto.Hash
	}{
		{oidSHA256WithRSA, x509.SHA256WithRSA, crypto.SHA256},
		{oidSHA384WithRSA, x509.SHA384WithRSA, crypto.SHA384},
		{oidSHA512WithRSA, x509.SHA512WithRSA, crypto.SHA512},
		{oidECDSAWithSHA256, x509.ECDSAWithSHA256, crypto.SHA256},
		{oidECDSAWithSHA384, x509.ECDSAWithSHA384, crypto.SHA384},
		{oidECDSAWithSHA512, x509.ECDSAWithSHA512, crypto.SHA512},
	}
	for _, n := range named {
		if n.oid.Equal(oid) {
			return n.alg, nil
		}
	}
	return 0, fmt.Errorf("%w: unsupported signature algorithm %v for %T", ErrBadSignature, oid, pub)
}

// signTSTInfo wraps tstInfo in a CMS SignedData signed by key, with the
// signed attributes RFC 3161 and RFC 5816 ask for. certs are embedded in
// order (signer first) when non-empty.
func signTSTInfo(tstInfo []byte, cert *x509.Certificate, key crypto.Signer, h crypto.Hash, certs []*x509.Certificate) ([]byte, error) {
	hashOID, ok := oidFromHash(h)
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	var sigAlg asn1.ObjectIdentifier
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = map[crypto.Hash]asn1.ObjectIdentifier{
			crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
	case *rsa.PublicKey:
		sigAlg = map[crypto.Hash]asn1.ObjectIdentifier{
			crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA}[h]
	default:
		return nil, fmt.Errorf("sign time-stamp token: unsupported key type %T", key.Public())
	}
	digest := h.New()
	digest.Write(tstInfo)
	certHash := crypto.SHA256.New()
	certHash.Write(cert.Raw)

	attrs, err := encodeSignedAttrs(digest.Sum(nil), certHash.Sum(nil), cert)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(attrs)
	sig, err := key.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("sign time-stamp token: %w", err)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3) // eContentType is not id-data (RFC 5652 §5.1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { addAlgorithm(b, hashOID, false) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidTSTInfo)
					b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(tstInfo) })
				})
				if len(certs) > 0 {
					b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
						for _, c := range certs {
							b.AddBytes(c.Raw)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						addAlgorithm(b, hashOID, false)
						b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(attrs[setHeaderLen(attrs):]) })
						addAlgorithm(b, sigAlg, sigAlg.Equal(oidSHA256WithRSA) || sigAlg.Equal(oidSHA384WithRSA) || sigAlg.Equal(oidSHA512WithRSA))
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode time-stamp token: %w", err)
	}
	return der, nil
}

// encodeSignedAttrs returns the DER SET OF Attribute that gets signed,
// sorted as DER requires for SET OF.
func encodeSignedAttrs(contentDigest, certHash []byte, cert *x509.Certificate) ([]byte, error) {
	attr := func(oid asn1.ObjectIdentifier, value func(b *cryptobyte.Builder)) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		return b.BytesOrPanic()
	}
	list := [][]byte{
		attr(oidAttrContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) }),
		attr(oidAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(contentDigest) }),
		attr(oidAttrSigningCertificateV2, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, SHA-256 by default
						b.AddASN1OctetString(certHash)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer) // directoryName
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		}),
	}
	slices.SortFunc(list, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range list {
			b.AddBytes(a)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode signed attributes: %w", err)
	}
	return der, nil
}

// setHeaderLen returns the length of the tag and length octets of der.
func setHeaderLen(der []byte) int {
	s := cryptobyte.String(der)
	var body cryptobyte.String
	s.ReadASN1(&body, cbasn1.SET)
	return len(der) - len(body)
}
