//go:build cgo

package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// newSoftHSMKey initialises a SoftHSM2 token in a temporary directory and
// imports key into it under label "issuing".
func newSoftHSMKey(t *testing.T, key *ecdsa.PrivateKey) PKCS11Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if _, statErr := os.Stat(softHSMModule); err != nil || statErr != nil {
		t.Fatalf("SoftHSM2 is required for the PKCS#11 tests (apt-get install softhsm2): %v %v", err, statErr)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.Mkdir(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf) // read by the module when it is loaded
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPath := filepath.Join(dir, "key.pem")
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	for _, args := range [][]string{
		{"--init-token", "--free", "--label", "vellum", "--pin", "1234", "--so-pin", "5678"},
		{"--import", keyPath, "--token", "vellum", "--label", "issuing", "--id", "01", "--pin", "1234"},
	} {
		if out, err := exec.Command(util, args...).CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return PKCS11Config{Module: softHSMModule, TokenLabel: "vellum", PIN: "1234", KeyLabel: "issuing"}
}

func TestPKCS11Key_SignsAsIssuingCA(t *testing.T) {
	soft, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := newSoftHSMKey(t, soft)
	hsm, err := OpenPKCS11Key(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hsm.Close() })
	if !soft.PublicKey.Equal(hsm.Public()) {
		t.Fatal("token key does not match the imported key")
	}
	digest := sha256.Sum256([]byte("hello"))
	sig, err := hsm.Sign(rand.Reader, digest[:], nil)
	if err != nil || !ecdsa.VerifyASN1(&soft.PublicKey, digest[:], sig) {
		t.Fatalf("token signature: %v", err)
	}

	// The whole PKI with its issuing CA key on the token.
	urls, _ := NewURLs("http://127.0.0.1:1")
	m, err := generate(urls, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.IssuingKey = hsm
	if err := m.reissue(urls, time.Now()); err != nil {
		t.Fatalf("reissue with token key: %v", err)
	}
	p, err := New(context.Background(), m, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := p.IssueSigner(context.Background(), "Ada", "ada@example.com")
	if err != nil {
		t.Fatalf("IssueSigner with token key: %v", err)
	}
	if err := cred.Cert.CheckSignatureFrom(p.Issuing()); err != nil {
		t.Errorf("signer certificate: %v", err)
	}
	ocspReq, _ := ocsp.CreateRequest(cred.Cert, p.Issuing(), nil)
	ocspResp, err := p.OCSP(context.Background(), ocspReq)
	if err != nil {
		t.Fatalf("OCSP with token key: %v", err)
	}
	if r, err := ocsp.ParseResponseForCert(ocspResp, cred.Cert, p.Issuing()); err != nil || r.Status != ocsp.Good {
		t.Errorf("OCSP response signed on the token: %v", err)
	}
	if _, err := p.CRL(context.Background(), "issuing"); err != nil {
		t.Errorf("CRL with token key: %v", err)
	}
}

func TestOpenPKCS11Key_ReportsMissingKey(t *testing.T) {
	soft, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := newSoftHSMKey(t, soft)
	cfg.KeyLabel = "absent"
	if _, err := OpenPKCS11Key(cfg); err == nil || !strings.Contains(err.Error(), `"absent"`) {
		t.Errorf("got %v, want an error naming the key", err)
	}
	cfg.KeyLabel, cfg.PIN = "issuing", "0000"
	if _, err := OpenPKCS11Key(cfg); err == nil {
		t.Error("wrong PIN accepted")
	}
}
