package cms

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
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

// berify rewrites DER the way streaming BER encoders do: every constructed
// element gets an indefinite length, OCTET STRINGs longer than 3 bytes are
// split into segments, and short primitive lengths take the long form.
// toDER must turn the result back into exactly the input.
func berify(t testing.TB, der []byte) []byte {
	t.Helper()
	var out []byte
	in := cryptobyte.String(der)
	for !in.Empty() {
		var el cryptobyte.String
		if !in.ReadAnyASN1Element(&el, nil) {
			t.Fatalf("berify: not DER: %x", []byte(in))
		}
		ident, body := el[0], el[headerLen(el):]
		switch {
		case ident&0x20 != 0:
			out = append(out, ident, 0x80)
			out = append(out, berify(t, body)...)
			out = append(out, 0, 0)
		case ident == 0x04 && len(body) > 3:
			half := len(body) / 2
			out = append(out, 0x24, 0x80)
			out = appendHeader(out, []byte{0x04}, half)
			out = append(out, body[:half]...)
			out = append(out, 0x04, 0x81, byte(len(body)-half)) // non-minimal on purpose
			out = append(out, body[half:]...)
			out = append(out, 0, 0)
		default:
			out = append(out, el...)
		}
	}
	return out
}

func testSigner(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "BER"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func TestToDER_RoundTripsStreamingBER(t *testing.T) {
	key, cert := testSigner(t)
	for _, attached := range []bool{false, true} {
		der, err := SignData(context.Background(), []byte("content that gets segmented"), attached, key, []*x509.Certificate{cert}, SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		same, rest, err := toDER(der)
		if err != nil || !bytes.Equal(same, der) || len(rest) != 0 {
			t.Fatalf("DER input changed: err=%v, %d trailing", err, len(rest))
		}
		ber := berify(t, der)
		if bytes.Equal(ber, der) {
			t.Fatal("berify did nothing")
		}
		got, rest, err := toDER(append(ber, 0, 0, 0))
		if err != nil || !bytes.Equal(got, der) || len(rest) != 3 {
			t.Fatalf("attached=%v: BER did not convert back to the DER: err=%v", attached, err)
		}
		sd, err := ParseSignedData(ber)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sd.Raw, ber) {
			t.Error("Raw is not the received encoding")
		}
		sum := sha256.Sum256([]byte("content that gets segmented"))
		if _, err := sd.VerifyDigest(sum[:], VerifyOptions{RequireSigningCertificate: true}); err != nil {
			t.Fatalf("attached=%v: BER signature does not verify: %v", attached, err)
		}
	}
}

func TestToDER_RejectsMalformed(t *testing.T) {
	for name, in := range map[string][]byte{
		"empty":                 {},
		"no length":             {0x30},
		"length past end":       {0x04, 0x05, 1, 2},
		"long length past end":  {0x04, 0x82, 0xff, 0xff, 1},
		"indefinite primitive":  {0x04, 0x80, 1, 0, 0},
		"unterminated":          {0x30, 0x80, 0x02, 0x01, 0x01},
		"child overruns parent": {0x30, 0x03, 0x02, 0x05, 0x01},
		"bad segment type":      {0x24, 0x80, 0x02, 0x01, 0x01, 0, 0},
		"constructed bitstring": {0x23, 0x80, 0x03, 0x02, 0x00, 0x01, 0, 0},
		"huge length":           {0x04, 0x85, 1, 0, 0, 0, 0},
		"long high tag":         {0x1f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00},
	} {
		if _, _, err := toDER(in); err == nil {
			t.Errorf("%s: %x accepted", name, in)
		}
	}
	deep := bytes.Repeat([]byte{0x30, 0x80}, maxBERDepth+2)
	if _, _, err := toDER(deep); !errors.Is(err, errBER) {
		t.Errorf("deep nesting: %v", err)
	}
}

// FuzzToDER: whatever toDER accepts comes out as DER that cryptobyte reads
// whole, and converting it again changes nothing.
func FuzzToDER(f *testing.F) {
	key, cert := testSigner(f)
	der, _ := SignData(context.Background(), []byte("seed"), true, key, []*x509.Certificate{cert}, SignOptions{})
	f.Add(der)
	f.Add(berify(f, der))
	f.Add([]byte{0x24, 0x80, 0x24, 0x80, 0x04, 0x01, 0x41, 0, 0, 0x04, 0x00, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, rest, err := toDER(in)
		if err != nil {
			return
		}
		if len(rest) > len(in) {
			t.Fatal("rest longer than input")
		}
		if out[0]&0x1f != 0x1f && !isDER(out) {
			// (cryptobyte limits high tag numbers more than BER does.)
			t.Fatalf("output is not DER: %x", out)
		}
		again, rest2, err := toDER(out)
		if err != nil || !bytes.Equal(again, out) || len(rest2) != 0 {
			t.Fatalf("not idempotent: %v", err)
		}
	})
}

// isDER reports whether b is a sequence of DER elements whose constructed
// elements hold DER elements in turn, as cryptobyte reads them.
func isDER(b []byte) bool {
	s := cryptobyte.String(b)
	for !s.Empty() {
		var body cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1(&body, &tag) {
			return false
		}
		if tag&0x20 != 0 && !isDER(body) {
			return false
		}
	}
	return true
}

// FuzzParseSignedData runs the parser and the verifier on mutated DER and
// BER signatures: no panics, and whatever parses has a signer.
func FuzzParseSignedData(f *testing.F) {
	key, cert := testSigner(f)
	sum := sha256.Sum256([]byte("doc"))
	der, _ := SignDetached(context.Background(), sum[:], key, []*x509.Certificate{cert}, SignOptions{})
	f.Add(der)
	f.Add(berify(f, der))
	att, _ := SignData(context.Background(), []byte("doc"), true, key, []*x509.Certificate{cert}, SignOptions{SigningTime: time.Now()})
	f.Add(berify(f, att))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := ParseSignedData(b)
		if err != nil {
			return
		}
		if len(sd.Signers) == 0 {
			t.Fatal("parsed without a signer")
		}
		sd.VerifyDigest(sum[:], VerifyOptions{RequireSigningCertificate: true})
		if sd.Content != nil {
			sd.Verify(VerifyOptions{})
		}
	})
}
