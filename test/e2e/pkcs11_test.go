package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// TestServe_PlatformKeysOnAPKCS11Token moves the issuing CA, seal and TSA
// keys of a PKI made by `vellum pki init` onto a SoftHSM2 token, deletes
// their files, and runs serve from the token: it starts only if each key on
// the token matches its certificate, and the built-in TSA signs there.
func TestServe_PlatformKeysOnAPKCS11Token(t *testing.T) {
	util, err := exec.LookPath("softhsm2-util")
	if _, statErr := os.Stat(softHSMModule); err != nil || statErr != nil {
		t.Fatalf("SoftHSM2 is required for the PKCS#11 tests (apt-get install softhsm2): %v %v", err, statErr)
	}
	pg, rdb := emptyDatabases(t, "e2e_pkcs11")
	addr := freeAddr(t)
	pkiDir := initPKI(t, "http://"+addr)

	hsm := t.TempDir()
	conf := filepath.Join(hsm, "softhsm2.conf")
	if err := os.Mkdir(filepath.Join(hsm, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(hsm, "tokens")+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	softhsm := func(args ...string) {
		t.Helper()
		cmd := exec.Command(util, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	softhsm("--init-token", "--free", "--label", "vellum-platform", "--pin", "1234", "--so-pin", "5678")
	for i, name := range []string{"issuing", "seal", "tsa"} {
		key := filepath.Join(pkiDir, name+".key")
		softhsm("--import", key, "--token", "vellum-platform", "--label", "vellum-"+name, "--id", "0"+string(rune('1'+i)), "--pin", "1234")
		if err := os.Remove(key); err != nil {
			t.Fatal(err)
		}
	}

	env := []string{"VELLUM_DATABASE_URL=" + pg.URL, "VELLUM_REDIS_URL=" + rdb.URL, "VELLUM_BLOB_BACKEND=fs",
		"VELLUM_BLOB_DIR=" + t.TempDir(), "VELLUM_PKI_DIR=" + pkiDir, "VELLUM_PUBLIC_URL=http://" + addr,
		"VELLUM_MAIL=log", "VELLUM_TSA_BUILTIN=true", "SOFTHSM2_CONF=" + conf,
		"VELLUM_PKCS11_MODULE=" + softHSMModule, "VELLUM_PKCS11_TOKEN_LABEL=vellum-platform", "VELLUM_PKCS11_PIN=1234",
		"VELLUM_PKCS11_ISSUING_KEY_LABEL=vellum-issuing", "VELLUM_PKCS11_TSA_KEY_LABEL=vellum-tsa"}
	env = append(env, testKEK...)
	if err := start(t, env, "migrate").wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	// The seal key's file is gone and no label names it: serve refuses.
	p := start(t, env, "serve", "--addr", addr)
	if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "seal.key") {
		t.Fatalf("serve without the seal key: exit %v, stderr %s", err, p.Stderr())
	}
	// A label the token lacks is named.
	p = start(t, append(env, "VELLUM_PKCS11_SEAL_KEY_LABEL=absent"), "serve", "--addr", addr)
	if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "VELLUM_PKCS11_SEAL_KEY_LABEL") {
		t.Fatalf("serve with an absent seal key label: exit %v, stderr %s", err, p.Stderr())
	}

	api := start(t, append(env, "VELLUM_PKCS11_SEAL_KEY_LABEL=vellum-seal"), "serve", "--addr", addr)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	checkDevTSA(t, "http://"+addr, filepath.Dir(pkiDir))
	if err := api.stop(30 * time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
}
