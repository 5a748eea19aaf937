package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SignedData is a parsed CMS SignedData (RFC 5652 §5).
type SignedData struct {
	// Raw is the ContentInfo as it was received (BER or DER), without
	// trailing padding.
	Raw []byte
	// ContentType is the encapsulated content type (id-data, id-ct-TSTInfo…).
	ContentType asn1.ObjectIdentifier
	// Content is the encapsulated content; nil for a detached signature.
	Content []byte
	// Certificates are the certificates carried in the structure that parse.
	Certificates []*x509.Certificate
	// CRLs and OCSPResponses are the DER revocation data of the crls field
	// (CertificateList and RFC 5940 id-ri-ocsp-response entries).
	CRLs, OCSPResponses [][]byte
	// Signers holds one entry per SignerInfo; there is at least one.
	Signers []*SignerInfo

	// badCerts are certificate encodings x509 refused, kept so that a
	// missing signer certificate can be explained.
	badCerts []error
}

// SignerInfo is one parsed SignerInfo.
type SignerInfo struct {
	// Certificate is the signer's certificate found among the SignedData
	// certificates, or nil when it is not embedded.
	Certificate *x509.Certificate
	// Hash is the digest algorithm; 0 when it is not one this package knows.
	Hash crypto.Hash
	// MessageDigest is the message-digest signed attribute (nil without
	// signed attributes).
	MessageDigest []byte
	// SigningTime is the signing-time attribute, zero when absent.
	SigningTime time.Time
	// Signature is the signature value.
	Signature []byte
	// TimestampTokens are the id-aa-signatureTimeStampToken unsigned
	// attributes, each a TimeStampToken (ContentInfo).
	TimestampTokens [][]byte
	// ArchivedCRLs and ArchivedOCSPs are the revocation data of Adobe's
	// adbe-revocationInfoArchival signed attribute.
	ArchivedCRLs, ArchivedOCSPs [][]byte

	hasSignedAttrs bool
	signedAttrs    []byte // DER of the signed attributes with a SET tag
	contentType    asn1.ObjectIdentifier
	essCerts       []essCertID // ESS signing-certificate(-v2), first names the signer
	sigAlg         asn1.ObjectIdentifier
	pssSalt        int
	pssHash        crypto.Hash
	issuer         []byte
	serial         *big.Int
	ski            []byte
}

// essCertID is an ESSCertID (v1: SHA-1) or ESSCertIDv2.
type essCertID struct {
	hash     crypto.Hash
	certHash []byte
	issuers  [][]byte // directoryName entries of issuerSerial, raw Name DER
	serial   *big.Int // nil without issuerSerial
}

// ErrMalformed means the input is not a well-formed SignedData.
var ErrMalformed = errors.New("cms: malformed SignedData")

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

var (
	tagCtx0     = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagCtx1     = cbasn1.Tag(1).Constructed().ContextSpecific()
	tagCtx2     = cbasn1.Tag(2).Constructed().ContextSpecific()
	tagCtx0Prim = cbasn1.Tag(0).ContextSpecific()
)

// ParseSignedData parses a ContentInfo holding SignedData, in DER or BER
// (indefinite lengths and segmented strings, as openssl -stream writes).
// Trailing zero bytes — the padding of a PDF /Contents string — are
// ignored; any other trailing data is an error.
func ParseSignedData(data []byte) (*SignedData, error) {
	der, rest, err := toDER(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, b := range rest {
		if b != 0 {
			return nil, malformed("data after the ContentInfo")
		}
	}
	in := cryptobyte.String(der)
	var ci, explicit, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, malformed("ContentInfo")
	}
	if !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: content type %v is not signedData", ErrMalformed, ct)
	}
	if !ci.ReadASN1(&explicit, tagCtx0) || !ci.Empty() ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("ContentInfo content")
	}
	out := &SignedData{Raw: data[:len(data)-len(rest)]}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) ||
		!sd.ReadASN1(&digestAlgs, cbasn1.SET) ||
		!sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, malformed("SignedData header")
	}
	if !encap.Empty() {
		var wrapper, octets cryptobyte.String
		if !encap.ReadASN1(&wrapper, tagCtx0) || !wrapper.ReadASN1(&octets, cbasn1.OCTET_STRING) ||
			!wrapper.Empty() || !encap.Empty() {
			return nil, malformed("encapsulated content")
		}
		out.Content = append([]byte{}, octets...)
	}
	var certs, crls, signerInfos cryptobyte.String
	var hasCerts, hasCRLs bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, tagCtx0) ||
		!sd.ReadOptionalASN1(&crls, &hasCRLs, tagCtx1) ||
		!sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("SignedData fields")
	}
	for hasCerts && !certs.Empty() {
		var raw cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&raw, &tag) {
			return nil, malformed("certificate set")
		}
		if tag != cbasn1.SEQUENCE {
			continue // attribute certificates and other formats
		}
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			out.badCerts = append(out.badCerts, err)
			continue
		}
		out.Certificates = append(out.Certificates, c)
	}
	for hasCRLs && !crls.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !crls.ReadAnyASN1Element(&el, &tag) {
			return nil, malformed("revocation info set")
		}
		switch tag {
		case cbasn1.SEQUENCE:
			out.CRLs = append(out.CRLs, append([]byte{}, el...))
		case tagCtx1: // OtherRevocationInfoFormat
			body := el
			var other cryptobyte.String
			var format asn1.ObjectIdentifier
			var resp cryptobyte.String
			if body.ReadASN1(&other, tagCtx1) && other.ReadASN1ObjectIdentifier(&format) &&
				format.Equal(oidRIOCSPResponse) && other.ReadASN1Element(&resp, cbasn1.SEQUENCE) {
				out.OCSPResponses = append(out.OCSPResponses, append([]byte{}, resp...))
			}
		}
	}
	for !signerInfos.Empty() {
		var si cryptobyte.String
		if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, malformed("SignerInfo")
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		s.Certificate = s.findCertificate(out.Certificates)
		out.Signers = append(out.Signers, s)
	}
	if len(out.Signers) == 0 {
		return nil, malformed("no SignerInfo")
	}
	return out, nil
}

// Identifies reports whether c is the certificate the SignerInfo's sid
// names (issuer and serial number, or subject key identifier).
func (s *SignerInfo) Identifies(c *x509.Certificate) bool {
	if s.serial != nil {
		return c.SerialNumber.Cmp(s.serial) == 0 && bytes.Equal(c.RawIssuer, s.issuer)
	}
	return s.ski != nil && bytes.Equal(c.SubjectKeyId, s.ski)
}

func (s *SignerInfo) findCertificate(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if s.Identifies(c) {
			return c
		}
	}
	return nil
}

func parseSignerInfo(si cryptobyte.String) (*SignerInfo, error) {
	s := &SignerInfo{}
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, malformed("SignerInfo version")
	}
	switch {
	case si.PeekASN1Tag(cbasn1.SEQUENCE): // IssuerAndSerialNumber
		var ias, issuer cryptobyte.String
		s.serial = new(big.Int)
		if !si.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(s.serial) || !ias.Empty() {
			return nil, malformed("SignerInfo issuerAndSerialNumber")
		}
		s.issuer = append([]byte{}, issuer...)
	case si.PeekASN1Tag(tagCtx0Prim): // [0] SubjectKeyIdentifier
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, tagCtx0Prim) {
			return nil, malformed("SignerInfo subjectKeyIdentifier")
		}
		s.ski = append([]byte{}, ski...)
	default:
		return nil, malformed("SignerInfo sid")
	}
	dOID, ok := readAlgorithm(&si)
	if !ok {
		return nil, malformed("SignerInfo digestAlgorithm")
	}
	s.Hash = HashFromOID(dOID)
	if si.PeekASN1Tag(tagCtx0) {
		var attrs cryptobyte.String
		if !si.ReadASN1(&attrs, tagCtx0) {
			return nil, malformed("signed attributes")
		}
		s.hasSignedAttrs = true
		b := cryptobyte.NewBuilder(make([]byte, 0, len(attrs)+6))
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
		s.signedAttrs = b.BytesOrPanic()
		if err := s.parseSignedAttrs(attrs); err != nil {
			return nil, err
		}
	}
	var sAlg cryptobyte.String
	if !si.ReadASN1(&sAlg, cbasn1.SEQUENCE) || !sAlg.ReadASN1ObjectIdentifier(&s.sigAlg) {
		return nil, malformed("SignerInfo signatureAlgorithm")
	}
	if s.sigAlg.Equal(oidRSAPSS) {
		var err error
		if s.pssHash, s.pssSalt, err = parsePSSParams(sAlg); err != nil {
			return nil, err
		}
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, malformed("SignerInfo signature")
	}
	s.Signature = append([]byte{}, sig...)
	if si.PeekASN1Tag(tagCtx1) {
		var attrs cryptobyte.String
		if !si.ReadASN1(&attrs, tagCtx1) {
			return nil, malformed("unsigned attributes")
		}
		err := eachAttribute(attrs, func(oid asn1.ObjectIdentifier, values cryptobyte.String) error {
			if !oid.Equal(OIDAttrTimeStampToken) {
				return nil
			}
			for !values.Empty() {
				var tok cryptobyte.String
				if !values.ReadASN1Element(&tok, cbasn1.SEQUENCE) {
					return malformed("signature timestamp token")
				}
				s.TimestampTokens = append(s.TimestampTokens, append([]byte{}, tok...))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if !si.Empty() {
		return nil, malformed("data after SignerInfo fields")
	}
	return s, nil
}

// parseSignedAttrs reads the attributes verification depends on. RFC 5652
// §5.3 allows each attribute type once, and content-type, message-digest
// and signing-time with exactly one value; anything else is refused so that
// no two readers can see different values.
func (s *SignerInfo) parseSignedAttrs(attrs cryptobyte.String) error {
	seen := map[string]bool{}
	return eachAttribute(attrs, func(oid asn1.ObjectIdentifier, values cryptobyte.String) error {
		key := oid.String()
		if seen[key] {
			return fmt.Errorf("%w: signed attribute %v appears twice", ErrMalformed, oid)
		}
		seen[key] = true
		single := func() (cryptobyte.String, error) {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !values.ReadAnyASN1Element(&v, &tag) || !values.Empty() {
				return nil, fmt.Errorf("%w: signed attribute %v needs exactly one value", ErrMalformed, oid)
			}
			return v, nil
		}
		switch {
		case oid.Equal(OIDAttrMessageDigest):
			v, err := single()
			if err != nil {
				return err
			}
			var md cryptobyte.String
			if !v.ReadASN1(&md, cbasn1.OCTET_STRING) {
				return malformed("message-digest attribute")
			}
			s.MessageDigest = append([]byte{}, md...)
		case oid.Equal(OIDAttrContentType):
			v, err := single()
			if err != nil {
				return err
			}
			if !v.ReadASN1ObjectIdentifier(&s.contentType) {
				return malformed("content-type attribute")
			}
		case oid.Equal(OIDAttrSigningTime):
			v, err := single()
			if err != nil {
				return err
			}
			ok := false
			switch {
			case v.PeekASN1Tag(cbasn1.UTCTime):
				ok = v.ReadASN1UTCTime(&s.SigningTime)
			case v.PeekASN1Tag(cbasn1.GeneralizedTime):
				ok = v.ReadASN1GeneralizedTime(&s.SigningTime)
			}
			if !ok {
				return malformed("signing-time attribute")
			}
		case oid.Equal(OIDAttrSigningCertV2), oid.Equal(OIDAttrSigningCert):
			v, err := single()
			if err != nil {
				return err
			}
			if s.essCerts != nil {
				// RFC 5035 §3: v1 and v2 together name the same certificate;
				// the v2 one (stronger hash) is checked, whichever came first.
				if oid.Equal(OIDAttrSigningCert) {
					return nil
				}
			}
			ids, err := parseSigningCertificate(v, oid.Equal(OIDAttrSigningCertV2))
			if err != nil {
				return err
			}
			s.essCerts = ids
		case oid.Equal(OIDAttrAdobeRevocation):
			v, err := single()
			if err != nil {
				return err
			}
			s.ArchivedCRLs, s.ArchivedOCSPs = parseAdobeRevocation(v)
		}
		return nil
	})
}

// parseSigningCertificate reads SigningCertificate (RFC 2634 §5.4, SHA-1
// ESSCertID) or SigningCertificateV2 (RFC 5035 §3, ESSCertIDv2).
func parseSigningCertificate(v cryptobyte.String, isV2 bool) ([]essCertID, error) {
	var seq, certs cryptobyte.String
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1(&certs, cbasn1.SEQUENCE) {
		return nil, malformed("signing-certificate attribute")
	}
	var out []essCertID
	for !certs.Empty() {
		var id cryptobyte.String
		if !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
			return nil, malformed("ESSCertID")
		}
		e := essCertID{hash: crypto.SHA1}
		if isV2 {
			e.hash = crypto.SHA256 // DEFAULT id-sha256
			if id.PeekASN1Tag(cbasn1.SEQUENCE) {
				oid, ok := readAlgorithm(&id)
				if !ok {
					return nil, malformed("ESSCertIDv2 hashAlgorithm")
				}
				if e.hash = HashFromOID(oid); e.hash == 0 {
					return nil, fmt.Errorf("%w: ESSCertIDv2 hash algorithm %v", ErrUnsupportedAlgorithm, oid)
				}
			}
		}
		var h cryptobyte.String
		if !id.ReadASN1(&h, cbasn1.OCTET_STRING) || len(h) != e.hash.Size() {
			return nil, malformed("ESSCertID certHash")
		}
		e.certHash = append([]byte{}, h...)
		if !id.Empty() {
			var is, names cryptobyte.String
			e.serial = new(big.Int)
			if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&names, cbasn1.SEQUENCE) ||
				!is.ReadASN1Integer(e.serial) {
				return nil, malformed("ESSCertID issuerSerial")
			}
			for !names.Empty() {
				var gn cryptobyte.String
				var tag cbasn1.Tag
				if !names.ReadAnyASN1(&gn, &tag) {
					return nil, malformed("ESSCertID issuer")
				}
				if tag == cbasn1.Tag(4).Constructed().ContextSpecific() { // directoryName [4] EXPLICIT Name
					e.issuers = append(e.issuers, append([]byte{}, gn...))
				}
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, malformed("signing-certificate attribute names no certificate")
	}
	return out, nil
}

// parseAdobeRevocation reads RevocationInfoArchival ::= SEQUENCE {
// crl [0] EXPLICIT SEQUENCE OF CRLs OPTIONAL, ocsp [1] EXPLICIT SEQUENCE OF
// OCSPResponse OPTIONAL, otherRevInfo [2] … }. It is informational (the
// data is verified where it is used), so what does not parse is skipped.
func parseAdobeRevocation(v cryptobyte.String) (crls, ocsps [][]byte) {
	var seq cryptobyte.String
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return nil, nil
	}
	for _, f := range []struct {
		tag cbasn1.Tag
		dst *[][]byte
	}{{tagCtx0, &crls}, {tagCtx1, &ocsps}} {
		var wrap, list cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&wrap, &present, f.tag) || !present || !wrap.ReadASN1(&list, cbasn1.SEQUENCE) {
			continue
		}
		for !list.Empty() {
			var el cryptobyte.String
			if !list.ReadASN1Element(&el, cbasn1.SEQUENCE) {
				break
			}
			*f.dst = append(*f.dst, append([]byte{}, el...))
		}
	}
	return crls, ocsps
}

func eachAttribute(attrs cryptobyte.String, fn func(asn1.ObjectIdentifier, cryptobyte.String) error) error {
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) ||
			!attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return malformed("attribute")
		}
		if err := fn(oid, values); err != nil {
			return err
		}
	}
	return nil
}

// readAlgorithm reads an AlgorithmIdentifier and returns its OID.
func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, bool) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, false
	}
	return oid, true
}

// parsePSSParams reads RSASSA-PSS-params; missing fields take the RFC 4055
// defaults (SHA-1, salt 20).
func parsePSSParams(alg cryptobyte.String) (crypto.Hash, int, error) {
	h, salt := crypto.SHA1, 20
	var params cryptobyte.String
	if !alg.ReadASN1(&params, cbasn1.SEQUENCE) {
		return h, salt, nil
	}
	var hashAlg, mgf, saltField cryptobyte.String
	var hasHash, hasSalt bool
	if !params.ReadOptionalASN1(&hashAlg, &hasHash, tagCtx0) ||
		!params.ReadOptionalASN1(&mgf, nil, tagCtx1) ||
		!params.ReadOptionalASN1(&saltField, &hasSalt, tagCtx2) {
		return 0, 0, malformed("RSASSA-PSS parameters")
	}
	if hasHash {
		oid, ok := readAlgorithm(&hashAlg)
		if !ok {
			return 0, 0, malformed("RSASSA-PSS hash")
		}
		h = HashFromOID(oid)
	}
	if hasSalt {
		var v int64
		if !saltField.ReadASN1Int64WithTag(&v, cbasn1.INTEGER) || v < 0 || v >= 1<<16 {
			return 0, 0, malformed("RSASSA-PSS salt length")
		}
		salt = int(v)
	}
	return h, salt, nil
}
