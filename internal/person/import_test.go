package person

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/vellum-sign/vellum/pkg/cms"
)

func TestImportCertificate_FromPKCS12WithItsKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "")
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cert := selfSigned(t, key)
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "p12-password")
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.ImportCertificate(ctx, f.scope, p.ID, ImportInput{PKCS12: pfx, PKCS12Password: "p12-password", PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != OriginImported || c.Algorithm != "ECDSA-P384" || c.PlatformIssued || !c.HasKey() {
		t.Fatalf("imported: %+v", c)
	}
	u, err := f.svc.Unlock(ctx, f.scope, c.ID, pin)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(u.Signer.Public()) {
		t.Fatal("unlocked key is not the imported one")
	}

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mismatched, _ := pkcs12.Modern.Encode(other, selfSigned(t, nil), nil, "pw")
	tooMany, _ := pkcs12.Modern.WithIterations(2_000_000).Encode(key, selfSigned(t, key), nil, "pw")
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakPFX, _ := pkcs12.Modern.Encode(weak, selfSigned(t, weak), nil, "pw")
	for _, tc := range []struct {
		name, field string
		in          ImportInput
	}{
		{"wrong file password", "pkcs12Password", ImportInput{PKCS12: pfx, PKCS12Password: "nope", PIN: pin}},
		{"not PKCS#12", "pkcs12", ImportInput{PKCS12: []byte("hello"), PIN: pin}},
		{"key of another certificate", "pkcs12", ImportInput{PKCS12: mismatched, PKCS12Password: "pw", PIN: pin}},
		{"iteration count over the bound", "pkcs12", ImportInput{PKCS12: tooMany, PKCS12Password: "pw", PIN: pin}},
		{"1024-bit RSA", "pkcs12", ImportInput{PKCS12: weakPFX, PKCS12Password: "pw", PIN: pin}},
		{"short PIN", "password", ImportInput{PKCS12: pfx, PKCS12Password: "p12-password", PIN: "123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.ImportCertificate(ctx, f.scope, p.ID, tc.in)
			if fieldsOf(err)[tc.field] == "" {
				t.Errorf("got %v, want a complaint about %s", err, tc.field)
			}
		})
	}
}

// TestImportCertificate_OpenSSLPKCS12 imports what `openssl pkcs12
// -export` writes by default (PBES2, AES-256-CBC, PBKDF2-SHA256).
func TestImportCertificate_OpenSSLPKCS12(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	cert := selfSigned(t, key)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
	out, err := exec.Command("openssl", "pkcs12", "-export", "-inkey", filepath.Join(dir, "key.pem"), "-in", filepath.Join(dir, "cert.pem"),
		"-passout", "pass:openssl-pw", "-out", filepath.Join(dir, "a.p12")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -export (apt-get install openssl): %v\n%s", err, out)
	}
	pfx, _ := os.ReadFile(filepath.Join(dir, "a.p12"))
	c, err := f.svc.ImportCertificate(ctx, f.scope, f.person(t, "").ID, ImportInput{PKCS12: pfx, PKCS12Password: "openssl-pw", PIN: pin, Type: TypeSeal})
	if err != nil {
		t.Fatal(err)
	}
	if c.Algorithm != "RSA-2048" || c.Type != TypeSeal {
		t.Fatalf("imported %s %s", c.Algorithm, c.Type)
	}
	u, err := f.svc.Unlock(ctx, f.scope, c.ID, pin)
	if err != nil || !key.PublicKey.Equal(u.Signer.Public()) {
		t.Fatalf("unlock: %v", err)
	}
}

func TestLinkWithProof_EveryKeyTypeAndSignatureForm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sha := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

	cases := []struct {
		name string
		key  crypto.Signer
		sign func(t *testing.T, cert *x509.Certificate, challenge []byte) []byte
	}{
		{"RSA PKCS#1 v1.5", rsaKey, func(t *testing.T, _ *x509.Certificate, ch []byte) []byte {
			s, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sha(ch))
			return s
		}},
		{"RSA-PSS", rsaKey, func(t *testing.T, _ *x509.Certificate, ch []byte) []byte {
			s, _ := rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, sha(ch), nil)
			return s
		}},
		{"ECDSA DER", ecKey, func(t *testing.T, _ *x509.Certificate, ch []byte) []byte {
			s, _ := ecdsa.SignASN1(rand.Reader, ecKey, sha(ch))
			return s
		}},
		{"ECDSA r||s (WebCrypto)", ecKey, func(t *testing.T, _ *x509.Certificate, ch []byte) []byte {
			der, _ := ecdsa.SignASN1(rand.Reader, ecKey, sha(ch))
			var rs struct{ R, S *big.Int }
			asn1.Unmarshal(der, &rs)
			out := make([]byte, 64)
			rs.R.FillBytes(out[:32])
			rs.S.FillBytes(out[32:])
			return out
		}},
		{"Ed25519", edKey, func(t *testing.T, _ *x509.Certificate, ch []byte) []byte {
			return ed25519.Sign(edKey, ch)
		}},
		{"CMS attached", ecKey, func(t *testing.T, cert *x509.Certificate, ch []byte) []byte {
			s, err := cms.SignData(ctx, ch, true, ecKey, []*x509.Certificate{cert}, cms.SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"CMS detached, no certificate embedded", rsaKey, func(t *testing.T, cert *x509.Certificate, ch []byte) []byte {
			s, err := cms.SignData(ctx, ch, false, rsaKey, []*x509.Certificate{cert}, cms.SignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"CMS by openssl cms -sign", ecKey, opensslCMS(ecKey)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := f.person(t, "")
			cert := selfSigned(t, tc.key)
			ch, err := f.svc.NewLinkChallenge(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: cert.Raw, Challenge: ch.Value, Signature: tc.sign(t, cert, []byte(ch.Value))})
			if err != nil {
				t.Fatalf("valid proof refused: %v", err)
			}
			if c.Origin != OriginLinked || c.PersonID != p.ID {
				t.Fatalf("linked: %+v", c)
			}
			// The challenge was spent.
			_, err = f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: selfSigned(t, tc.key).Raw, Challenge: ch.Value, Signature: tc.sign(t, cert, []byte(ch.Value))})
			if !errors.Is(err, ErrChallengeInvalid) {
				t.Fatalf("reused challenge: %v", err)
			}
		})
	}

	t.Run("proof by another key", func(t *testing.T) {
		p := f.person(t, "")
		ch, _ := f.svc.NewLinkChallenge(ctx, p)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sig, _ := ecdsa.SignASN1(rand.Reader, other, sha([]byte(ch.Value)))
		if _, err := f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: selfSigned(t, ecKey).Raw, Challenge: ch.Value, Signature: sig}); !errors.Is(err, ErrProofInvalid) {
			t.Fatalf("got %v, want ErrProofInvalid", err)
		}
	})
	t.Run("another person's challenge", func(t *testing.T) {
		p, q := f.person(t, ""), f.person(t, "")
		ch, _ := f.svc.NewLinkChallenge(ctx, q)
		sig, _ := ecdsa.SignASN1(rand.Reader, ecKey, sha([]byte(ch.Value)))
		if _, err := f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: selfSigned(t, ecKey).Raw, Challenge: ch.Value, Signature: sig}); !errors.Is(err, ErrChallengeInvalid) {
			t.Fatalf("got %v, want ErrChallengeInvalid", err)
		}
	})
	t.Run("expired challenge", func(t *testing.T) {
		p := f.person(t, "")
		ch, _ := f.svc.NewLinkChallenge(ctx, p)
		f.clock.Advance(ChallengeTTL)
		defer f.clock.Advance(-ChallengeTTL)
		sig, _ := ecdsa.SignASN1(rand.Reader, ecKey, sha([]byte(ch.Value)))
		if _, err := f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: selfSigned(t, ecKey).Raw, Challenge: ch.Value, Signature: sig}); !errors.Is(err, ErrChallengeInvalid) {
			t.Fatalf("got %v, want ErrChallengeInvalid", err)
		}
	})
	t.Run("GOST certificate", func(t *testing.T) {
		p := f.person(t, "")
		ch, _ := f.svc.NewLinkChallenge(ctx, p)
		_, err := f.svc.LinkWithProof(ctx, p, ProofInput{Certificate: readFixture(t, "kz-gost2012-256.pem"), Challenge: ch.Value, Signature: []byte("any signature")})
		if !errors.Is(err, ErrGOSTUnsupported) {
			t.Fatalf("got %v, want ErrGOSTUnsupported", err)
		}
	})
}

// opensslCMS signs the challenge with `openssl cms -sign`, an independent
// CMS implementation.
func opensslCMS(key crypto.Signer) func(t *testing.T, cert *x509.Certificate, ch []byte) []byte {
	return func(t *testing.T, cert *x509.Certificate, ch []byte) []byte {
		dir := t.TempDir()
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
		os.WriteFile(filepath.Join(dir, "challenge"), ch, 0o600)
		out, err := exec.Command("openssl", "cms", "-sign", "-binary", "-in", filepath.Join(dir, "challenge"),
			"-signer", filepath.Join(dir, "cert.pem"), "-inkey", filepath.Join(dir, "key.pem"), "-outform", "DER").Output()
		if err != nil {
			t.Fatalf("openssl cms -sign: %v", err)
		}
		return out
	}
}

// TestKeys_AbsentFromTheDatabaseDump signs up keys every way they arrive
// and greps a pg_dump of the database for them in every encoding, and for
// the PINs and passwords.
func TestKeys_AbsentFromTheDatabaseDump(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.person(t, "portal-password-4711")
	issued := f.issue(t, p, "issued-pin-8642")
	imported, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pfx, _ := pkcs12.Modern.Encode(imported, selfSigned(t, imported), nil, "p12-pw-1234")
	ic, err := f.svc.ImportCertificate(ctx, f.scope, p.ID, ImportInput{PKCS12: pfx, PKCS12Password: "p12-pw-1234", PIN: "imported-pin-9753"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.Unlock(ctx, f.scope, issued.ID, "issued-pin-8642")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Unlock(ctx, f.scope, ic.ID, "imported-pin-9753"); err != nil {
		t.Fatal(err)
	}
	out, err := env.pg.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(issued.ID)) {
		t.Fatal("the dump does not contain the certificate: the test would prove nothing")
	}
	secrets := map[string][]byte{
		"portal password":  []byte("portal-password-4711"),
		"issued PIN":       []byte("issued-pin-8642"),
		"imported PIN":     []byte("imported-pin-9753"),
		"PKCS#12 password": []byte("p12-pw-1234"),
	}
	for name, k := range map[string]crypto.Signer{"issued": u.Signer, "imported": imported} {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		ecDER, _ := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
		scalar, err := k.(*ecdsa.PrivateKey).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		secrets[name+" key PKCS#8 DER"] = der
		secrets[name+" key PKCS#8 hex (as bytea prints)"] = []byte(hexOf(der))
		secrets[name+" key SEC1 DER"] = ecDER
		secrets[name+" key PEM body"] = []byte(base64.StdEncoding.EncodeToString(der)[:40])
		secrets[name+" key scalar"] = scalar
		secrets[name+" key scalar hex"] = []byte(strings.ToLower(hexOf(scalar)))
		secrets[name+" key scalar base64"] = []byte(base64.StdEncoding.EncodeToString(scalar)[:30])
	}
	lower := bytes.ToLower(out)
	for name, s := range secrets {
		if bytes.Contains(out, s) || bytes.Contains(lower, bytes.ToLower(s)) {
			t.Errorf("the database dump contains the %s", name)
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestCheckIterations_EncryptedOctetsThatLookLikeDER covers the shape that
// made one in a few hundred OpenSSL exports fail: a shrouded key's
// ciphertext whose first bytes happen to frame as DER while what they frame
// does not parse.
func TestCheckIterations_EncryptedOctetsThatLookLikeDER(t *testing.T) {
	// SEQUENCE { OCTET STRING { 30 02 05 05 } }: the octets are one
	// SEQUENCE at the top level, holding a NULL that claims 5 bytes it lacks.
	accidental := []byte{0x30, 0x06, 0x04, 0x04, 0x30, 0x02, 0x05, 0x05}
	if err := checkIterations(accidental, 0); err != nil {
		t.Fatalf("ciphertext framed as DER by chance: %v", err)
	}
	// The same framing that does hold a count over the bound still fails.
	tooMany := []byte{0x30, 0x0b, 0x04, 0x09, 0x30, 0x07, 0x04, 0x01, 0x00, 0x02, 0x02, 0x7f, 0xff}
	if err := checkIterations(tooMany, 0); err != nil {
		t.Fatalf("count under the bound: %v", err)
	}
	over := []byte{0x30, 0x0c, 0x04, 0x0a, 0x30, 0x08, 0x04, 0x01, 0x00, 0x02, 0x03, 0x7f, 0xff, 0xff}
	if err := checkIterations(over, 0); !errors.Is(err, errTooManyIterations) {
		t.Fatalf("count 8,388,607 inside octets: got %v", err)
	}
	if err := checkIterations([]byte{0x30, 0x05, 0x02}, 0); err == nil {
		t.Fatal("a truncated outer structure passed")
	}
}
