package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// startDevProc runs `vellum dev` and returns its client and process (for
// its log).
func startDevProc(t *testing.T) (*integrator, *proc) {
	t.Helper()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", t.TempDir())
	key := dev.waitLine("API key:", 90*time.Second)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 60*time.Second)
	return &integrator{t: t, base: "http://" + addr, key: key}, dev
}

type e2ePerson struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type e2eCertificate struct {
	ID        string `json:"id"`
	IsPrimary bool   `json:"isPrimary"`
	Origin    string `json:"origin"`
}

// selfSignedCert is an outside certificate and its key, for linking.
func selfSignedCert(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// signexCurl holds the curl lines of Signex's documentation, verbatim but
// for the host (https://signex.kz) and, in the last one, the example id.
var signexCurl = []string{
	`curl -c cookies.txt -X POST https://signex.kz/api/auth/login \
-H "Content-Type: application/json" \
-d '{"email":"you@example.com","password":"your-password"}'`,
	`curl -b cookies.txt https://signex.kz/api/cert/mine`,
	`curl -b cookies.txt \
https://signex.kz/api/cert/8f7b25d8-4e1a-4c3d-9b12-aef301234567`,
}

func TestDev_SignexDocumentationCurlLinesRunUnchanged(t *testing.T) {
	app, dev := startDevProc(t)
	var p e2ePerson
	app.postJSON("/api/v1/persons", map[string]any{"uniqueId": "you@uni.localhost", "email": "you@example.com",
		"name": "AKHMETOVA AIGUL ERKINOVNA", "nationalId": "IIN123456789012", "password": "your-password"}, http.StatusCreated, &p)
	var c e2eCertificate
	app.postJSON("/api/v1/persons/"+p.ID+"/certificates", map[string]any{"type": "PERSONAL", "password": "pin-24681357", "validityDays": 365},
		http.StatusCreated, &c)

	dir := t.TempDir()
	run := func(line string) []byte {
		t.Helper()
		line = strings.ReplaceAll(line, "https://signex.kz", app.base)
		line = strings.ReplaceAll(line, "8f7b25d8-4e1a-4c3d-9b12-aef301234567", c.ID)
		cmd := exec.Command("bash", "-c", line+" --silent --show-error --fail-with-body")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return out
	}
	var login map[string]any
	if err := json.Unmarshal(run(signexCurl[0]), &login); err != nil || login["email"] != "you@example.com" {
		t.Fatalf("login: %v %v", login, err)
	}
	jar, _ := os.ReadFile(filepath.Join(dir, "cookies.txt"))
	if !strings.Contains(string(jar), "__Host-Signex.Auth") || !strings.Contains(string(jar), "XSRF-TOKEN") {
		t.Fatalf("curl's cookie jar lacks the session or anti-forgery cookie:\n%s", jar)
	}

	var mine struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal(run(signexCurl[1]), &mine); err != nil || mine.Total != 1 || len(mine.Items) != 1 {
		t.Fatalf("mine: %+v %v", mine, err)
	}
	var keys []string
	for k := range mine.Items[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "algorithm,fullName,id,iin,isPrimary,linkedAt,status,template,thumbprint,validity" {
		t.Errorf("CertSummary fields %v", keys)
	}
	it := mine.Items[0]
	if it["id"] != c.ID || it["iin"] != "123456******" || it["fullName"] != "AKHMETOVA AIGUL ERKINOVNA" || it["algorithm"] != "ECDSA-P256" ||
		it["isPrimary"] != true || it["status"] != "valid" || it["template"] != "Individual" {
		t.Errorf("summary %v", it)
	}

	var detail struct {
		ID         string `json:"id"`
		PEM        string `json:"pem"`
		Extensions []struct {
			Name string `json:"name"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(run(signexCurl[2]), &detail); err != nil || detail.ID != c.ID || len(detail.Extensions) < 6 ||
		!strings.HasPrefix(detail.PEM, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("detail: %+v %v", detail, err)
	}

	// Nothing secret reached the log.
	log := dev.Stderr()
	for _, secret := range []string{"your-password", "pin-24681357", "PRIVATE KEY", string(jar[strings.Index(string(jar), "__Host-Signex.Auth")+len("__Host-Signex.Auth")+1:])} {
		if s := strings.TrimSpace(secret); s != "" && strings.Contains(log, s) {
			t.Errorf("the dev log contains %q", s)
		}
	}
}

// TestServe_RefusesToStartWithoutTheKeysOfItsPrivateKeys stores a private
// key with the CLI, then starts serve and worker without the key-encryption
// keys and with wrong ones.
func TestServe_RefusesToStartWithoutTheKeysOfItsPrivateKeys(t *testing.T) {
	pg, rdb := emptyDatabases(t, "e2e_kek")
	addr := freeAddr(t)
	base := []string{"VELLUM_DATABASE_URL=" + pg.URL, "VELLUM_REDIS_URL=" + rdb.URL, "VELLUM_BLOB_BACKEND=fs",
		"VELLUM_BLOB_DIR=" + t.TempDir(), "VELLUM_PKI_DIR=" + initPKI(t, "http://"+addr), "VELLUM_PUBLIC_URL=http://" + addr, "VELLUM_MAIL=log"}
	const kek, recovery, other = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
		"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	withKeys := append(append([]string{}, base...), "VELLUM_KEK="+kek, "VELLUM_KEK_RECOVERY="+recovery)
	if err := start(t, base, "migrate").wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	acct := start(t, base, "accounts", "create", "--name", "Keys")
	acct.waitLine("Account:", 30*time.Second)

	// Without keys, serve and worker refuse to start even while no
	// private key is stored.
	for _, cmd := range []string{"serve", "worker"} {
		p := start(t, base, cmd, "--addr", freeAddr(t))
		if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "VELLUM_KEK") {
			t.Errorf("%s without keys on an empty database: exit %v, stderr %s", cmd, err, p.Stderr())
		}
	}

	create := start(t, withKeys, "persons", "create", "--unique-id", "kek@uni.localhost", "--email", "kek@example.com", "--name", "Kek Holder")
	personID := create.waitLine("Person:", 30*time.Second)
	if out := runWithStdin(t, withKeys, "pin-97531\n", "persons", "certificates", "issue", "--person", personID, "--pin-stdin"); !strings.Contains(out, "Certificate: crt_") {
		t.Fatalf("persons certificates issue printed %q", out)
	}

	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"no keys", base},
		{"another KEK", append(append([]string{}, base...), "VELLUM_KEK="+other, "VELLUM_KEK_RECOVERY="+recovery)},
		{"another recovery key", append(append([]string{}, base...), "VELLUM_KEK="+kek, "VELLUM_KEK_RECOVERY="+other)},
	} {
		for _, cmd := range []string{"serve", "worker"} {
			p := start(t, tc.env, cmd, "--addr", freeAddr(t))
			if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "VELLUM_KEK") {
				t.Errorf("%s with %s: exit %v, stderr %s", cmd, tc.name, err, p.Stderr())
			}
			for _, secret := range []string{kek, recovery, other} {
				if strings.Contains(p.Stderr(), secret) {
					t.Errorf("%s with %s printed a key", cmd, tc.name)
				}
			}
		}
	}
	api := start(t, withKeys, "serve", "--addr", addr)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	if err := api.stop(30 * time.Second); err != nil {
		t.Fatalf("serve with the right keys: %v", err)
	}
}

// runWithStdin runs vellum to completion with text on its standard input
// and returns its standard output.
func runWithStdin(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(vellumBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vellum %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
