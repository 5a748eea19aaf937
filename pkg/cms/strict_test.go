package cms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A certificate for the same key, but not the one the signed attributes
// name, must not verify: the signing-certificate-v2 binding is what stops a
// signature being passed off under another identity.
func TestVerify_RejectsSubstitutedCertificate(t *testing.T) {
	key, cert := testSigner(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "Mallory"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	otherDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	other, _ := x509.ParseCertificate(otherDER)

	sum := sha256.Sum256([]byte("doc"))
	der, err := SignDetached(context.Background(), sum[:], key, []*x509.Certificate{cert}, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := ParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.VerifyDigest(sum[:], VerifyOptions{RequireSigningCertificate: true}); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	// Swap the embedded certificate and the sid for Mallory's; the signature
	// value itself still verifies with the (shared) key.
	s := sd.Signers[0]
	sd.Certificates = []*x509.Certificate{other}
	s.Certificate, s.serial, s.issuer = other, other.SerialNumber, other.RawIssuer
	_, err = sd.VerifyDigest(sum[:], VerifyOptions{})
	if !errors.Is(err, ErrSigningCertificate) {
		t.Fatalf("substituted certificate: got %v, want ErrSigningCertificate", err)
	}
	// The same through an external pool (a DSS) rather than the CMS.
	sd.Certificates, s.Certificate = nil, nil
	if _, err := sd.VerifyDigest(sum[:], VerifyOptions{Intermediates: []*x509.Certificate{other}}); !errors.Is(err, ErrSigningCertificate) {
		t.Fatalf("substituted certificate from the pool: got %v", err)
	}
	s.serial, s.issuer = cert.SerialNumber, cert.RawIssuer
	if _, err := sd.VerifyDigest(sum[:], VerifyOptions{Intermediates: []*x509.Certificate{other, cert}}); err != nil {
		t.Fatalf("signer certificate found in the pool: %v", err)
	}
}

func TestVerify_RequireSigningCertificate(t *testing.T) {
	key, cert := testSigner(t)
	sum := sha256.Sum256([]byte("doc"))
	der, _ := SignDetached(context.Background(), sum[:], key, []*x509.Certificate{cert}, SignOptions{})
	sd, _ := ParseSignedData(der)
	sd.Signers[0].essCerts = nil // as if the attribute were absent
	if _, err := sd.VerifyDigest(sum[:], VerifyOptions{RequireSigningCertificate: true}); !errors.Is(err, ErrSigningCertificate) {
		t.Fatalf("got %v, want ErrSigningCertificate", err)
	}
}

func attr(oid []int, values ...[]byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, v := range values {
				b.AddBytes(v)
			}
		})
	})
	return b.BytesOrPanic()
}

func octets(v []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1OctetString(v)
	return b.BytesOrPanic()
}

// Attributes that two readers could read differently are refused.
func TestParseSignedAttrs_RejectsAmbiguity(t *testing.T) {
	md := OIDAttrMessageDigest
	ct := OIDAttrContentType
	oid := func(o []int) []byte {
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1ObjectIdentifier(o)
		return b.BytesOrPanic()
	}
	for name, attrs := range map[string][]byte{
		"message-digest twice":      append(attr(md, octets([]byte{1})), attr(md, octets([]byte{2}))...),
		"two message-digest values": attr(md, octets([]byte{1}), octets([]byte{2})),
		"two content types":         attr(ct, oid(OIDData), oid(OIDTSTInfo)),
		"no content type value":     attr(ct),
		"digest not an octet str":   attr(md, oid(OIDData)),
	} {
		s := &SignerInfo{}
		if err := s.parseSignedAttrs(cryptobyte.String(attrs)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	s := &SignerInfo{}
	if err := s.parseSignedAttrs(cryptobyte.String(append(attr(ct, oid(OIDData)), attr(md, octets([]byte{9}))...))); err != nil ||
		!bytes.Equal(s.MessageDigest, []byte{9}) || !s.contentType.Equal(OIDData) {
		t.Fatalf("well-formed attributes: %v", err)
	}
}

func TestVerify_MissingContentTypeOrDigestAttribute(t *testing.T) {
	key, cert := testSigner(t)
	sum := sha256.Sum256([]byte("doc"))
	der, _ := SignDetached(context.Background(), sum[:], key, []*x509.Certificate{cert}, SignOptions{})
	for name, mutate := range map[string]func(*SignerInfo){
		"no content-type":   func(s *SignerInfo) { s.contentType = nil },
		"other content":     func(s *SignerInfo) { s.contentType = OIDTSTInfo },
		"no message-digest": func(s *SignerInfo) { s.MessageDigest = nil },
	} {
		sd, _ := ParseSignedData(der)
		mutate(sd.Signers[0])
		if res, err := sd.VerifyDigest(sum[:], VerifyOptions{}); err == nil || res.SignatureValid {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestParseSignedData_TrailingData(t *testing.T) {
	key, cert := testSigner(t)
	sum := sha256.Sum256([]byte("doc"))
	der, _ := SignDetached(context.Background(), sum[:], key, []*x509.Certificate{cert}, SignOptions{})
	if _, err := ParseSignedData(append(bytes.Clone(der), make([]byte, 4000)...)); err != nil {
		t.Fatalf("zero padding refused: %v", err)
	}
	if _, err := ParseSignedData(append(bytes.Clone(der), 0, 0, 'x')); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing junk: got %v", err)
	}
}
