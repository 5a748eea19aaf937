package cms

import (
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

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	// ContentType is the encapsulated content type (id-data, id-ct-TSTInfo…).
	ContentType asn1.ObjectIdentifier
	// Content is the encapsulated content; nil for a detached signature.
	Content []byte
	// Certificates are all certificates carried in the structure.
	Certificates []*x509.Certificate
	// Signers holds one entry per SignerInfo.
	Signers []*SignerInfo
}

// SignerInfo is one parsed SignerInfo.
type SignerInfo struct {
	// Certificate is the signer's certificate found among the SignedData
	// certificates, or nil when it is not embedded.
	Certificate *x509.Certificate
	// Hash is the digest algorithm.
	Hash crypto.Hash
	// MessageDigest is the message-digest signed attribute (nil without
	// signed attributes).
	MessageDigest []byte
	// SigningTime is the signing-time attribute, zero when absent.
	SigningTime time.Time
	// Signature is the signature value.
	Signature []byte
	// TimestampTokens are the DER id-aa-signatureTimeStampToken unsigned
	// attributes.
	TimestampTokens [][]byte

	contentType   asn1.ObjectIdentifier // content-type signed attribute
	hasSignedAttr bool
	signedAttrs   []byte // DER of the signed attributes with a SET tag
	sigAlg        asn1.ObjectIdentifier
	pssSalt       int
	pssHash       crypto.Hash
	issuer        []byte
	serial        *big.Int
	ski           []byte
}

var errMalformed = errors.New("cms: malformed SignedData")

// ParseSignedData parses a DER ContentInfo holding SignedData. Trailing bytes
// after the ContentInfo (such as the zero padding of a PDF /Contents string)
// are ignored.
func ParseSignedData(der []byte) (*SignedData, error) {
	in := cryptobyte.String(der)
	var ci, sd cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) ||
		!ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, errMalformed
	}
	if !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("cms: content type %v is not signedData", ct)
	}
	var explicit cryptobyte.String
	if !ci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!explicit.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, errMalformed
	}
	out := &SignedData{}
	var version int64
	var digestAlgs, encap, signerInfos cryptobyte.String
	if !sd.ReadASN1Integer(&version) ||
		!sd.ReadASN1(&digestAlgs, cbasn1.SET) ||
		!sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, errMalformed
	}
	if !encap.Empty() {
		var wrapper, octets cryptobyte.String
		if !encap.ReadASN1(&wrapper, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		// The eContent OCTET STRING; a constructed (BER) one is not DER.
		if !wrapper.ReadASN1(&octets, cbasn1.OCTET_STRING) {
			return nil, fmt.Errorf("cms: encapsulated content is not a DER OCTET STRING")
		}
		out.Content = append([]byte{}, octets...)
	}
	var certs cryptobyte.String
	var present bool
	if !sd.ReadOptionalASN1(&certs, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errMalformed
	}
	for present && !certs.Empty() {
		var raw cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&raw, &tag) {
			return nil, errMalformed
		}
		if tag != cbasn1.SEQUENCE {
			continue // other certificate formats (attribute certificates)
		}
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("cms: certificate: %w", err)
		}
		out.Certificates = append(out.Certificates, c)
	}
	var crls cryptobyte.String
	if !sd.ReadOptionalASN1(&crls, nil, cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!sd.ReadASN1(&signerInfos, cbasn1.SET) {
		return nil, errMalformed
	}
	for !signerInfos.Empty() {
		var si cryptobyte.String
		if !signerInfos.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, errMalformed
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		s.Certificate = out.findCertificate(s)
		out.Signers = append(out.Signers, s)
	}
	if len(out.Signers) == 0 {
		return nil, errors.New("cms: no SignerInfo")
	}
	return out, nil
}

func (sd *SignedData) findCertificate(s *SignerInfo) *x509.Certificate {
	for _, c := range sd.Certificates {
		if s.serial != nil && c.SerialNumber.Cmp(s.serial) == 0 && string(c.RawIssuer) == string(s.issuer) {
			return c
		}
		if s.ski != nil && string(c.SubjectKeyId) == string(s.ski) {
			return c
		}
	}
	return nil
}

func parseSignerInfo(si cryptobyte.String) (*SignerInfo, error) {
	s := &SignerInfo{}
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, errMalformed
	}
	var sid cryptobyte.String
	var tag cbasn1.Tag
	if !si.ReadAnyASN1(&sid, &tag) {
		return nil, errMalformed
	}
	switch tag {
	case cbasn1.SEQUENCE: // IssuerAndSerialNumber
		var issuer cryptobyte.String
		s.serial = new(big.Int)
		if !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1Integer(s.serial) {
			return nil, errMalformed
		}
		s.issuer = issuer
	case cbasn1.Tag(0).ContextSpecific(): // SubjectKeyIdentifier
		s.ski = append([]byte{}, sid...)
	default:
		return nil, errMalformed
	}
	var dAlg cryptobyte.String
	var dOID asn1.ObjectIdentifier
	if !si.ReadASN1(&dAlg, cbasn1.SEQUENCE) || !dAlg.ReadASN1ObjectIdentifier(&dOID) {
		return nil, errMalformed
	}
	s.Hash = HashFromOID(dOID)
	if si.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var attrs cryptobyte.String
		if !si.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		s.hasSignedAttr = true
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
		s.signedAttrs = b.BytesOrPanic()
		if err := s.parseSignedAttrs(attrs); err != nil {
			return nil, err
		}
	}
	var sAlg cryptobyte.String
	if !si.ReadASN1(&sAlg, cbasn1.SEQUENCE) || !sAlg.ReadASN1ObjectIdentifier(&s.sigAlg) {
		return nil, errMalformed
	}
	if s.sigAlg.Equal(oidRSAPSS) {
		s.pssHash, s.pssSalt = parsePSSParams(sAlg)
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, errMalformed
	}
	s.Signature = append([]byte{}, sig...)
	if si.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var attrs cryptobyte.String
		if !si.ReadASN1(&attrs, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return nil, errMalformed
		}
		err := eachAttribute(attrs, func(oid asn1.ObjectIdentifier, values cryptobyte.String) error {
			if !oid.Equal(OIDAttrTimeStampToken) {
				return nil
			}
			for !values.Empty() {
				var tok cryptobyte.String
				if !values.ReadASN1Element(&tok, cbasn1.SEQUENCE) {
					return errMalformed
				}
				s.TimestampTokens = append(s.TimestampTokens, append([]byte{}, tok...))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *SignerInfo) parseSignedAttrs(attrs cryptobyte.String) error {
	return eachAttribute(attrs, func(oid asn1.ObjectIdentifier, values cryptobyte.String) error {
		switch {
		case oid.Equal(OIDAttrMessageDigest):
			var md cryptobyte.String
			if !values.ReadASN1(&md, cbasn1.OCTET_STRING) {
				return errMalformed
			}
			s.MessageDigest = append([]byte{}, md...)
		case oid.Equal(OIDAttrContentType):
			if !values.ReadASN1ObjectIdentifier(&s.contentType) {
				return errMalformed
			}
		case oid.Equal(OIDAttrSigningTime):
			var t time.Time
			switch {
			case values.PeekASN1Tag(cbasn1.UTCTime):
				if !values.ReadASN1UTCTime(&t) {
					return errMalformed
				}
			case values.PeekASN1Tag(cbasn1.GeneralizedTime):
				if !values.ReadASN1GeneralizedTime(&t) {
					return errMalformed
				}
			}
			s.SigningTime = t
		}
		return nil
	})
}

func eachAttribute(attrs cryptobyte.String, fn func(asn1.ObjectIdentifier, cryptobyte.String) error) error {
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) ||
			!attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) {
			return errMalformed
		}
		if err := fn(oid, values); err != nil {
			return err
		}
	}
	return nil
}

// parsePSSParams reads RSASSA-PSS-params; missing fields take the RFC 4055
// defaults (SHA-1, salt 20).
func parsePSSParams(alg cryptobyte.String) (crypto.Hash, int) {
	h, salt := crypto.SHA1, 20
	var params cryptobyte.String
	if !alg.ReadASN1(&params, cbasn1.SEQUENCE) {
		return h, salt
	}
	var hashAlg cryptobyte.String
	var present bool
	if params.ReadOptionalASN1(&hashAlg, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) && present {
		var inner cryptobyte.String
		var oid asn1.ObjectIdentifier
		if hashAlg.ReadASN1(&inner, cbasn1.SEQUENCE) && inner.ReadASN1ObjectIdentifier(&oid) {
			h = HashFromOID(oid)
		}
	}
	var mgf cryptobyte.String
	params.ReadOptionalASN1(&mgf, nil, cbasn1.Tag(1).Constructed().ContextSpecific())
	var saltField cryptobyte.String
	if params.ReadOptionalASN1(&saltField, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) && present {
		var v int64
		if saltField.ReadASN1Int64WithTag(&v, cbasn1.INTEGER) && v >= 0 && v < 1<<16 {
			salt = int(v)
		}
	}
	return h, salt
}
