package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TimestampToken is a parsed RFC 3161 TimeStampToken.
type TimestampToken struct {
	// Raw is the DER token (a ContentInfo).
	Raw []byte
	// SignedData is the token's CMS structure.
	SignedData *SignedData
	// GenTime is the time the TSA vouches for.
	GenTime time.Time
	// Hash and MessageImprint are the timestamped digest and its algorithm.
	Hash           crypto.Hash
	MessageImprint []byte
	SerialNumber   *big.Int
	Policy         asn1.ObjectIdentifier
	Nonce          *big.Int
}

// ParseTimestampToken parses a DER TimeStampToken and its TSTInfo.
func ParseTimestampToken(der []byte) (*TimestampToken, error) {
	sd, err := ParseSignedData(der)
	if err != nil {
		return nil, fmt.Errorf("timestamp token: %w", err)
	}
	if !sd.ContentType.Equal(OIDTSTInfo) || sd.Content == nil {
		return nil, errors.New("timestamp token: content is not TSTInfo")
	}
	var info tstInfo
	rest, err := asn1.Unmarshal(sd.Content, &info)
	if err != nil {
		return nil, fmt.Errorf("timestamp token: malformed TSTInfo: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("timestamp token: trailing data after TSTInfo")
	}
	if info.Version != 1 {
		return nil, fmt.Errorf("timestamp token: TSTInfo version %d, want 1", info.Version)
	}
	return &TimestampToken{
		Raw:            trimDER(der),
		SignedData:     sd,
		GenTime:        info.GenTime,
		Hash:           HashFromOID(info.MessageImprint.Algorithm.Algorithm),
		MessageImprint: info.MessageImprint.HashedMessage,
		SerialNumber:   info.SerialNumber,
		Policy:         policyOID(info.Policy),
		Nonce:          info.Nonce,
	}, nil
}

// policyOID returns the policy as an asn1.ObjectIdentifier, or nil when an
// arc is too large for one (see tstInfo.Policy).
func policyOID(raw asn1.RawValue) asn1.ObjectIdentifier {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(raw.FullBytes, &oid); err != nil {
		return nil
	}
	return oid
}

// tstInfo is RFC 3161's TSTInfo. encoding/asn1 is used rather than
// cryptobyte because genTime may carry fractional seconds, which
// cryptobyte's GeneralizedTime reader refuses.
type tstInfo struct {
	Version int
	// Policy stays raw: arcs under 2.25 are 128-bit UUIDs, which
	// asn1.ObjectIdentifier cannot hold.
	Policy         asn1.RawValue
	MessageImprint struct {
		Algorithm     pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds int `asn1:"optional"`
		Millis  int `asn1:"optional,tag:0"`
		Micros  int `asn1:"optional,tag:1"`
	} `asn1:"optional"`
	Ordering   bool          `asn1:"optional,default:false"`
	Nonce      *big.Int      `asn1:"optional"`
	TSA        asn1.RawValue `asn1:"optional,explicit,tag:0"`
	Extensions asn1.RawValue `asn1:"optional,tag:1"`
}

// trimDER returns the first DER element of b, dropping trailing padding.
func trimDER(b []byte) []byte {
	s := cryptobyte.String(b)
	var el cryptobyte.String
	if s.ReadASN1Element(&el, cbasn1.SEQUENCE) {
		return append([]byte{}, el...)
	}
	return b
}

// Certificate returns the TSA certificate embedded in the token, or nil.
func (t *TimestampToken) Certificate() *x509.Certificate {
	return t.SignedData.Signers[0].Certificate
}

// VerifyImprint checks that the token timestamps digest (computed with t.Hash).
func (t *TimestampToken) VerifyImprint(digest []byte) error {
	if !bytes.Equal(t.MessageImprint, digest) {
		return errors.New("timestamp token: message imprint does not match")
	}
	return nil
}

// VerifyData checks the token's imprint against data and its signature.
func (t *TimestampToken) VerifyData(data []byte, roots *x509.CertPool) error {
	if t.Hash == 0 || !t.Hash.Available() {
		return errors.New("timestamp token: unsupported imprint hash")
	}
	h := t.Hash.New()
	h.Write(data)
	if err := t.VerifyImprint(h.Sum(nil)); err != nil {
		return err
	}
	return t.VerifyToken(roots)
}

// VerifySignatureValue checks a signature timestamp: the imprint is the hash
// of the CMS signature value.
func (t *TimestampToken) VerifySignatureValue(sig []byte, roots *x509.CertPool) error {
	return t.VerifyData(sig, roots)
}

// VerifyToken checks the TSA's signature over the TSTInfo and, when roots
// are given, the TSA certificate chain (time-stamping usage) at genTime.
func (t *TimestampToken) VerifyToken(roots *x509.CertPool) error {
	_, err := t.SignedData.Verify(VerifyOptions{
		Roots:     roots,
		Time:      t.GenTime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return fmt.Errorf("timestamp token: %w", err)
	}
	return nil
}
