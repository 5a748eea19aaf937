package rfc3161

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Digest algorithm identifiers of message imprints.
var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// tagCtx0 and tagCtx1 are constructed [0] and [1], explicit or implicit.
var (
	tagCtx0 = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1 = cbasn1.Tag(1).ContextSpecific().Constructed()
)

// hashOIDs lists the digest algorithms accepted in message imprints and CMS.
// SHA-1 is deliberately absent: a SHA-1 imprint no longer proves anything.
var hashOIDs = []struct {
	hash crypto.Hash
	oid  asn1.ObjectIdentifier
}{
	{crypto.SHA256, oidSHA256},
	{crypto.SHA384, oidSHA384},
	{crypto.SHA512, oidSHA512},
}

func hashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range hashOIDs {
		if h.oid.Equal(oid) {
			return h.hash, true
		}
	}
	return 0, false
}

func oidFromHash(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	for _, e := range hashOIDs {
		if e.hash == h {
			return e.oid, true
		}
	}
	return nil, false
}

// checkHash reports whether h is usable for a message imprint of digest.
func checkHash(h crypto.Hash, digest []byte) error {
	if _, ok := oidFromHash(h); !ok || !h.Available() {
		return fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	if len(digest) != h.Size() {
		return fmt.Errorf("%w: %v digest is %d bytes, want %d", ErrMalformed, h, len(digest), h.Size())
	}
	return nil
}

// readAlgorithm reads an AlgorithmIdentifier and returns its OID, ignoring
// parameters (NULL or absent for every algorithm accepted here).
func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, bool) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, false
	}
	return oid, true
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, nullParams bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
}

// readMessageImprint reads MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage }.
func readMessageImprint(s *cryptobyte.String) (crypto.Hash, []byte, error) {
	var mi cryptobyte.String
	if !s.ReadASN1(&mi, cbasn1.SEQUENCE) {
		return 0, nil, fmt.Errorf("%w: message imprint", ErrMalformed)
	}
	oid, ok := readAlgorithm(&mi)
	if !ok {
		return 0, nil, fmt.Errorf("%w: message imprint algorithm", ErrMalformed)
	}
	var digest []byte
	if !mi.ReadASN1Bytes(&digest, cbasn1.OCTET_STRING) || !mi.Empty() {
		return 0, nil, fmt.Errorf("%w: message imprint digest", ErrMalformed)
	}
	h, ok := hashFromOID(oid)
	if !ok {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, oid)
	}
	if err := checkHash(h, digest); err != nil {
		return 0, nil, err
	}
	return h, digest, nil
}

func addMessageImprint(b *cryptobyte.Builder, h crypto.Hash, digest []byte) {
	oid, _ := oidFromHash(h)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addAlgorithm(b, oid, true) // openssl and most TSAs write NULL parameters
		b.AddASN1OctetString(digest)
	})
}

// readGeneralizedTime accepts fractional seconds, which cryptobyte's reader
// rejects but many TSAs emit ("20240101120000.123Z").
func readGeneralizedTime(s *cryptobyte.String) (time.Time, bool) {
	var raw []byte
	if !s.ReadASN1Bytes(&raw, cbasn1.GeneralizedTime) {
		return time.Time{}, false
	}
	v := string(raw)
	if !strings.HasSuffix(v, "Z") {
		return time.Time{}, false // DER requires UTC ("Z")
	}
	t, err := time.Parse("20060102150405Z0700", v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
