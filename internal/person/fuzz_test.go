package person

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/vellum-sign/vellum/internal/validation"
)

// fuzzOIDs are the extensions DescribeExtension decodes, and one it does not.
var fuzzOIDs = []asn1.ObjectIdentifier{
	{2, 5, 29, 15}, {2, 5, 29, 37}, {2, 5, 29, 17}, {2, 5, 29, 18}, {2, 5, 29, 32}, {1, 3, 6, 1, 5, 5, 7, 1, 1},
	{1, 3, 6, 1, 5, 5, 7, 1, 11}, {2, 5, 29, 31}, {2, 5, 29, 46}, {2, 5, 29, 19}, {2, 5, 29, 14}, {2, 5, 29, 35},
	{2, 5, 29, 16}, {1, 3, 6, 1, 5, 5, 7, 1, 3}, {1, 3, 6, 1, 5, 5, 7, 48, 1, 5}, {1, 2, 3, 4},
}

func fuzzSeedCertificates(f *testing.F) []*x509.Certificate {
	var out []*x509.Certificate
	for _, name := range []string{"kz-gost2012-256.pem", "kz-gost2012-512.pem"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, c)
	}
	return append(out, selfSigned(f, nil), env.ca.Issuing())
}

// FuzzDescribeExtension decodes arbitrary extension values: what a linked
// certificate carries is the holder's choice.
func FuzzDescribeExtension(f *testing.F) {
	for _, c := range fuzzSeedCertificates(f) {
		for _, e := range c.Extensions {
			for i, oid := range fuzzOIDs {
				if oid.Equal(e.Id) {
					f.Add(uint8(i), e.Critical, e.Value)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, critical bool, value []byte) {
		oid := fuzzOIDs[int(which)%len(fuzzOIDs)]
		e := DescribeExtension(oid, critical, value)
		if e.OID != oid.String() || e.Name == "" || e.Critical != critical || e.Value == nil {
			t.Fatalf("description %+v", e)
		}
		if _, err := json.Marshal(e.Value); err != nil {
			t.Fatalf("value does not marshal: %v", err)
		}
	})
}

// FuzzCertificate parses arbitrary certificates and derives everything the
// portal shows from them.
func FuzzCertificate(f *testing.F) {
	for _, c := range fuzzSeedCertificates(f) {
		f.Add(c.Raw)
		f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCertificate(data)
		if err != nil {
			return
		}
		_ = Algorithm(c)
		_ = IIN(c)
		_ = FullName(c)
		_ = TemplateOf(c)
		_ = SignatureAlgorithm(c)
		_ = PublicKeySize(c)
		_ = IsGOST(c)
		_ = inferType(c)
		_ = FormatName(c.RawSubject)
		_ = FormatName(c.RawIssuer)
		_ = Attributes(ParseName(c.RawSubject))
		if _, err := json.Marshal(Extensions(c)); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodePKCS12 feeds arbitrary files to the import: it must refuse
// them quickly and cleanly, whatever iteration counts they ask for.
func FuzzDecodePKCS12(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := selfSigned(f, key)
	for _, enc := range []*pkcs12.Encoder{pkcs12.Modern, pkcs12.Modern2023, pkcs12.Legacy, pkcs12.LegacyDES} {
		if pfx, err := enc.Encode(key, cert, nil, "pw"); err == nil {
			f.Add(pfx, "pw")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		k, c, err := decodePKCS12(data, password)
		if err == nil && (k == nil || c == nil) {
			t.Fatal("no error but no key or certificate")
		}
		var fields validation.Errors
		if err != nil && !errors.As(err, &fields) {
			t.Fatalf("not a field error: %T %v", err, err)
		}
	})
}

// FuzzVerifyProof checks arbitrary signatures (raw or CMS) against a fixed
// certificate: none may panic, none may pass.
func FuzzVerifyProof(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := selfSigned(f, key)
	challenge := []byte("vellum-link-v1:fuzz")
	digest := sha256.Sum256(challenge)
	good, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	f.Add(good[:len(good)-1])
	f.Add([]byte{0x30, 0x80})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, sig []byte) {
		if err := verifyProof(cert, challenge, sig); err == nil {
			t.Fatalf("a fuzzed signature %x verified", sig)
		}
	})
}
