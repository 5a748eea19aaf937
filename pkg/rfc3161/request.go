package rfc3161

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Request is a TimeStampReq (RFC 3161 §2.4.1).
type Request struct {
	HashAlgorithm crypto.Hash
	Digest        []byte   // the hashed message of the message imprint
	Policy        x509.OID // requested TSA policy; zero value for none
	Nonce         *big.Int // nil for none
	CertReq       bool     // ask the TSA to include its certificate
	Extensions    []pkix.Extension
}

var tagExtensions = cbasn1.Tag(0).ContextSpecific().Constructed()

// ParseRequest decodes a DER TimeStampReq. Errors wrap ErrMalformed, or
// ErrUnsupportedHash when only the digest algorithm is unacceptable.
func ParseRequest(der []byte) (*Request, error) {
	input := cryptobyte.String(der)
	var s cryptobyte.String
	if !input.ReadASN1(&s, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, fmt.Errorf("%w: time-stamp request is not a single DER SEQUENCE", ErrMalformed)
	}
	var version int64
	if !s.ReadASN1Integer(&version) || version != 1 {
		return nil, fmt.Errorf("%w: time-stamp request version must be 1", ErrMalformed)
	}
	h, digest, err := readMessageImprint(&s)
	if err != nil {
		return nil, err
	}
	req := &Request{HashAlgorithm: h, Digest: digest}
	if s.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var raw cryptobyte.String
		if !s.ReadASN1(&raw, cbasn1.OBJECT_IDENTIFIER) || req.Policy.UnmarshalBinary(raw) != nil {
			return nil, fmt.Errorf("%w: request policy", ErrMalformed)
		}
	}
	if s.PeekASN1Tag(cbasn1.INTEGER) {
		req.Nonce = new(big.Int)
		if !s.ReadASN1Integer(req.Nonce) {
			return nil, fmt.Errorf("%w: request nonce", ErrMalformed)
		}
	}
	if s.PeekASN1Tag(cbasn1.BOOLEAN) && !s.ReadASN1Boolean(&req.CertReq) {
		return nil, fmt.Errorf("%w: request certReq", ErrMalformed)
	}
	if s.PeekASN1Tag(tagExtensions) {
		if req.Extensions, err = readExtensions(&s); err != nil {
			return nil, err
		}
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: trailing data in time-stamp request", ErrMalformed)
	}
	return req, nil
}

// readExtensions reads "[0] IMPLICIT Extensions" (also used by TSTInfo with [1]).
func readExtensions(s *cryptobyte.String) ([]pkix.Extension, error) {
	var tag cbasn1.Tag
	var list cryptobyte.String
	if !s.ReadAnyASN1(&list, &tag) {
		return nil, fmt.Errorf("%w: extensions", ErrMalformed)
	}
	var exts []pkix.Extension
	for !list.Empty() {
		var el cryptobyte.String
		if !list.ReadASN1Element(&el, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: extension", ErrMalformed)
		}
		var ext pkix.Extension
		if rest, err := asn1.Unmarshal(el, &ext); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: extension", ErrMalformed)
		}
		exts = append(exts, ext)
	}
	return exts, nil
}

// Marshal encodes the request as DER.
func (r *Request) Marshal() ([]byte, error) {
	if err := checkHash(r.HashAlgorithm, r.Digest); err != nil {
		return nil, fmt.Errorf("marshal time-stamp request: %w", err)
	}
	var policy []byte
	if !r.Policy.Equal(x509.OID{}) {
		var err error
		if policy, err = r.Policy.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("marshal time-stamp request policy: %w", err)
		}
	}
	var exts [][]byte
	for _, e := range r.Extensions {
		der, err := asn1.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("marshal time-stamp request extension %v: %w", e.Id, err)
		}
		exts = append(exts, der)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addMessageImprint(b, r.HashAlgorithm, r.Digest)
		if policy != nil {
			b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(policy) })
		}
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
		if r.CertReq { // DEFAULT FALSE is omitted in DER
			b.AddASN1Boolean(true)
		}
		if len(exts) > 0 {
			b.AddASN1(tagExtensions, func(b *cryptobyte.Builder) {
				for _, e := range exts {
					b.AddBytes(e)
				}
			})
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("marshal time-stamp request: %w", err)
	}
	return der, nil
}
