//go:build cgo

package person

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSMAESKeys initialises a SoftHSM2 token in a temporary directory and
// generates non-extractable AES-256 keys with the given labels on it.
func softHSMAESKeys(t *testing.T, labels ...string) pki.PKCS11Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if _, statErr := os.Stat(softHSMModule); err != nil || statErr != nil {
		t.Fatalf("SoftHSM2 is required for the PKCS#11 tests (apt-get install softhsm2): %v %v", err, statErr)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "vellum-kek", "--pin", "1234", "--so-pin", "5678").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: softHSMModule, TokenLabel: "vellum-kek", Pin: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	for i, label := range labels {
		// The key is generated on the token (sensitive, not extractable).
		if _, err := ctx.GenerateSecretKeyWithLabel([]byte{byte(i + 1)}, []byte(label), 256, crypto11.CipherAES); err != nil {
			t.Fatalf("generate AES key %s: %v", label, err)
		}
	}
	return pki.PKCS11Config{Module: softHSMModule, TokenLabel: "vellum-kek", PIN: "1234"}
}

func TestPKCS11Keyring_SealsAndOpensOnTheToken(t *testing.T) {
	ctx := context.Background()
	cfg := softHSMAESKeys(t, "kek", "kek-recovery")
	open := func(label string) *pki.PKCS11AEAD {
		c := cfg
		c.KeyLabel = label
		a, err := pki.OpenPKCS11AEAD(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	keys := &Keyring{KEK: NewAEADKey(open("kek")), Recovery: NewAEADKey(open("kek-recovery"))}

	// Its own database: the shared one's key checks name the software keys.
	pg, err := testenv.StartPostgres(ctx, "person_pkcs11")
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	ca, err := pki.LoadOrCreate(ctx, t.TempDir(), "http://127.0.0.1:9", pki.WithStore(pki.NewDBStore(pg.DB)))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(pg.DB, ca, keys, Config{Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.NewService(pg.DB).CreateAccount(ctx, "HSM tenant", "")
	if err != nil {
		t.Fatal(err)
	}
	scope := account.Scope{AccountID: a.ID, Environment: account.Live}
	p, err := svc.Create(ctx, scope, CreateInput{UniqueID: "hsm@uni.localhost", Email: "hsm@example.com", Name: "Token Holder"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.IssueCertificate(ctx, scope, p.ID, IssueInput{PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.Unlock(ctx, scope, c.ID, pin)
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, u)
	if _, err := svc.ResetPIN(ctx, scope, c.ID, "reset-on-token"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, scope, c.ID, "reset-on-token"); err != nil {
		t.Fatalf("unlock after a reset through the token's recovery key: %v", err)
	}
	if err := svc.CheckKeys(ctx); err != nil {
		t.Fatal(err)
	}
	// The same token with the roles of the keys swapped is refused at start.
	swapped, _ := NewService(pg.DB, ca, &Keyring{KEK: keys.Recovery, Recovery: keys.KEK}, Config{Argon2: testArgon2})
	if err := swapped.CheckKeys(ctx); err == nil || !strings.Contains(err.Error(), "VELLUM_KEK") {
		t.Fatalf("swapped token keys: %v", err)
	}
}
