package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found on PATH: apt-get install poppler-utils qpdf openssl", name)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newPKI(t *testing.T) *cmstest.PKI {
	t.Helper()
	p, err := cmstest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSignDetached_VerifiesWithOpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	dir := t.TempDir()
	caFile := write(t, dir, "root.pem", cmstest.PEM(pki.Root))
	data := []byte("%PDF-1.7 pretend byte ranges\n")
	dataFile := write(t, dir, "data.bin", data)

	tests := []struct {
		name string
		key  cmstest.KeyType
		hash crypto.Hash
		pss  bool
	}{
		{"ecdsa-p256-sha256", cmstest.ECDSAP256, crypto.SHA256, false},
		{"ecdsa-p384-sha384", cmstest.ECDSAP384, crypto.SHA384, false},
		{"rsa-pkcs1-sha256", cmstest.RSA2048, crypto.SHA256, false},
		{"rsa-pkcs1-sha512", cmstest.RSA2048, crypto.SHA512, false},
		{"rsa-pss-sha256", cmstest.RSA2048, crypto.SHA256, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := pki.Issue("Alice Signer", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.hash.New()
			h.Write(data)
			digest := h.Sum(nil)
			der, err := cms.SignDetached(context.Background(), digest, id.Key, id.Chain, cms.SignOptions{Hash: tc.hash, PSS: tc.pss})
			if err != nil {
				t.Fatal(err)
			}
			sigFile := write(t, dir, tc.name+".p7s", der)
			run(t, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
				"-content", dataFile, "-CAfile", caFile, "-purpose", "any", "-out", os.DevNull)

			sd, err := cms.ParseSignedData(der)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sd.VerifyDigest(digest, cms.VerifyOptions{Roots: pki.Roots()})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if res.Certificate.Subject.CommonName != "Alice Signer" || len(res.Chains) == 0 {
				t.Fatalf("unexpected result %+v", res)
			}
			digest[0] ^= 1
			if _, err := sd.VerifyDigest(digest, cms.VerifyOptions{}); !errors.Is(err, cms.ErrDigestMismatch) {
				t.Fatalf("tampered digest: got %v, want ErrDigestMismatch", err)
			}
		})
	}
}

func TestSignDetached_HasNoSigningTimeAndHasSigningCertificateV2(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	id, _ := pki.Issue("Bob", cmstest.ECDSAP256)
	d := sha256.Sum256([]byte("x"))
	der, err := cms.SignDetached(context.Background(), d[:], id.Key, id.Chain, cms.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := write(t, t.TempDir(), "s.p7s", der)
	out := run(t, "openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", f)
	if strings.Contains(out, "signingTime") {
		t.Error("signing-time attribute present; PAdES forbids it")
	}
	for _, want := range []string{"id-smime-aa-signingCertificateV2", "messageDigest", "contentType"} {
		if !strings.Contains(out, want) {
			t.Errorf("attribute %s missing:\n%s", want, out)
		}
	}
}

func TestSignData_AttachedAndDetachedPEMAndDER(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	dir := t.TempDir()
	caFile := write(t, dir, "root.pem", cmstest.PEM(pki.Root))
	id, _ := pki.Issue("Carol", cmstest.RSA2048)
	data := []byte("contract text\r\nwith CRLF kept byte for byte\n")
	dataFile := write(t, dir, "data.txt", data)

	for _, attached := range []bool{true, false} {
		der, err := cms.SignData(context.Background(), data, attached, id.Key, id.Chain, cms.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pemFile := write(t, dir, "sig.pem", cms.EncodePEM(der))
		derFile := write(t, dir, "sig.der", der)
		for _, in := range [][2]string{{"DER", derFile}, {"PEM", pemFile}} {
			args := []string{"cms", "-verify", "-binary", "-inform", in[0], "-in", in[1], "-CAfile", caFile, "-purpose", "any"}
			outFile := filepath.Join(dir, "out.bin")
			if !attached {
				args = append(args, "-content", dataFile)
			}
			run(t, "openssl", append(args, "-out", outFile)...)
			got, _ := os.ReadFile(outFile)
			if string(got) != string(data) {
				t.Errorf("attached=%v %s: openssl output %q", attached, in[0], got)
			}
		}
		sd, err := cms.ParseSignedData(cms.DecodePEM(cms.EncodePEM(der)))
		if err != nil {
			t.Fatal(err)
		}
		if attached {
			if _, err := sd.Verify(cms.VerifyOptions{Roots: pki.Roots()}); err != nil {
				t.Fatal(err)
			}
		} else if sd.Content != nil {
			t.Fatal("detached signature carries content")
		}
	}
}

func TestSignPKCS1_VerifiesWithOpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	dir := t.TempDir()
	id, _ := pki.Issue("Dave", cmstest.RSA2048)
	data := []byte("raw pkcs1 input")
	d := sha512.Sum512(data)
	sig, err := cms.SignPKCS1(id.Key, d[:], crypto.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(id.Chain[0].PublicKey.(*rsa.PublicKey), crypto.SHA512, d[:], sig); err != nil {
		t.Fatal(err)
	}
	certFile := write(t, dir, "cert.pem", cmstest.PEM(id.Chain[0]))
	sigFile := write(t, dir, "sig.bin", sig)
	dataFile := write(t, dir, "data.bin", data)
	out := run(t, "openssl", "dgst", "-sha512", "-verify", pubKeyPEM(t, dir, certFile), "-signature", sigFile, dataFile)
	if !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}
	ec, _ := pki.Issue("Eve", cmstest.ECDSAP256)
	if _, err := cms.SignPKCS1(ec.Key, d[:], crypto.SHA512); err == nil {
		t.Fatal("PKCS#1 with an ECDSA key must fail")
	}
}

func pubKeyPEM(t *testing.T, dir, certFile string) string {
	out := run(t, "openssl", "x509", "-in", certFile, "-pubkey", "-noout")
	return write(t, dir, "pub.pem", []byte(out))
}

func TestSignDetached_TimestampTokenVerifiesWithOpenSSL(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	dir := t.TempDir()
	tsa, err := pki.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := pki.Issue("Frank", cmstest.ECDSAP256)
	d := sha256.Sum256([]byte("doc"))
	der, err := cms.SignDetached(context.Background(), d[:], id.Key, id.Chain, cms.SignOptions{Timestamper: tsa})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.ParseSignedData(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.VerifyDigest(d[:], cms.VerifyOptions{Roots: pki.Roots(), RequireSigningCertificate: true}); err != nil {
		t.Fatal(err)
	}
	if len(sd.Signers[0].TimestampTokens) != 1 {
		t.Fatalf("%d signature timestamp tokens", len(sd.Signers[0].TimestampTokens))
	}
	imprint := sha256.Sum256(sd.Signers[0].Signature)
	tok, err := rfc3161.VerifyToken(sd.Signers[0].TimestampTokens[0], imprint[:], pki.Roots())
	if err != nil || tok.GenTime.IsZero() {
		t.Fatalf("token: %v", err)
	}
	tokFile := write(t, dir, "tok.der", sd.Signers[0].TimestampTokens[0])
	caFile := write(t, dir, "ca.pem", cmstest.PEM(pki.Root))
	untrusted := write(t, dir, "inter.pem", cmstest.PEM(pki.Intermediate))
	out := run(t, "openssl", "ts", "-verify", "-digest", hex.EncodeToString(imprint[:]), "-in", tokFile, "-token_in",
		"-CAfile", caFile, "-untrusted", untrusted)
	if !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts: %s", out)
	}
}

func TestParseSignedData_RejectsGarbage(t *testing.T) {
	for _, in := range [][]byte{nil, {0x30}, {0x30, 0x03, 0x06, 0x01, 0x00}, []byte("not asn1 at all")} {
		if _, err := cms.ParseSignedData(in); err == nil {
			t.Errorf("ParseSignedData(%x) accepted garbage", in)
		}
	}
}

// Signatures other tools write in BER — openssl cms -stream uses indefinite
// lengths and a segmented eContent — parse and verify, and our DER form is
// the one openssl itself re-encodes them to.
func TestParseSignedData_OpenSSLStreamingBER(t *testing.T) {
	requireTool(t, "openssl")
	pki := newPKI(t)
	dir := t.TempDir()
	id, _ := pki.Issue("Grace", cmstest.ECDSAP256)
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := write(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	certFile := write(t, dir, "cert.pem", cmstest.PEM(id.Chain[0]))
	chainFile := write(t, dir, "chain.pem", cmstest.PEM(id.Chain[1]))
	data := bytes.Repeat([]byte("streamed content "), 400)
	dataFile := write(t, dir, "data.bin", data)
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		name  string
		args  []string
		cades bool
	}{
		{"detached", nil, false},
		{"detached-cades", []string{"-cades"}, true},
		{"attached", []string{"-nodetach"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := filepath.Join(dir, tc.name+".der")
			args := append([]string{"cms", "-sign", "-binary", "-stream", "-md", "sha256", "-in", dataFile,
				"-signer", certFile, "-inkey", keyFile, "-certfile", chainFile, "-outform", "DER", "-out", sig}, tc.args...)
			run(t, "openssl", args...)
			ber, _ := os.ReadFile(sig)
			if !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
				t.Fatalf("openssl did not write indefinite lengths: %x", ber[:4])
			}
			sd, err := cms.ParseSignedData(ber)
			if err != nil {
				t.Fatal(err)
			}
			if tc.args != nil && tc.args[0] == "-nodetach" && !bytes.Equal(sd.Content, data) {
				t.Fatal("segmented eContent not reassembled")
			}
			if _, err := sd.VerifyDigest(sum[:], cms.VerifyOptions{Roots: pki.Roots(), RequireSigningCertificate: tc.cades}); err != nil {
				t.Fatalf("verify: %v", err)
			}
			_, err = sd.VerifyDigest(sum[:], cms.VerifyOptions{RequireSigningCertificate: true})
			if tc.cades != (err == nil) {
				t.Fatalf("RequireSigningCertificate with cades=%v: %v", tc.cades, err)
			}
			reDER := filepath.Join(dir, tc.name+"-re.der")
			run(t, "openssl", "cms", "-cmsout", "-inform", "DER", "-in", sig, "-outform", "DER", "-out", reDER)
			want, _ := os.ReadFile(reDER)
			sdDER, err := cms.ParseSignedData(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sdDER.Signers[0].Signature, sd.Signers[0].Signature) || len(sdDER.Certificates) != len(sd.Certificates) {
				t.Fatal("BER and openssl's DER re-encoding parse differently")
			}
		})
	}
}

// EstimateDetachedSize is an upper bound that is at most a few bytes off,
// with and without a signature timestamp.
func TestEstimateDetachedSize_IsTightUpperBound(t *testing.T) {
	pki := newPKI(t)
	tsa, err := pki.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	for _, kt := range []cmstest.KeyType{cmstest.ECDSAP256, cmstest.ECDSAP384, cmstest.RSA2048} {
		id, _ := pki.Issue("Size", kt)
		for _, ts := range []cms.Timestamper{nil, tsa} {
			opts := cms.SignOptions{Timestamper: ts}
			for range 20 {
				d := sha256.Sum256([]byte(time.Now().String()))
				der, err := cms.SignDetached(context.Background(), d[:], id.Key, id.Chain, opts)
				if err != nil {
					t.Fatal(err)
				}
				tokLen := 0
				if ts != nil {
					sd, _ := cms.ParseSignedData(der)
					tokLen = len(sd.Signers[0].TimestampTokens[0])
				}
				est, err := cms.EstimateDetachedSize(id.Key.Public(), id.Chain, opts, tokLen)
				if err != nil {
					t.Fatal(err)
				}
				if est < len(der) || est-len(der) > 8 {
					t.Fatalf("key %d, timestamped %v: estimate %d for %d bytes", kt, ts != nil, est, len(der))
				}
			}
		}
	}
}
