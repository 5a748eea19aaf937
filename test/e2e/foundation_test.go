package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/testenv"
)

func TestDev_PrintsKeyServesReadyAndKeepsStateAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	const opsToken = "e2e-ops-token-0123456789"
	dev := start(t, []string{"VELLUM_OPS_TOKEN=" + opsToken}, "dev", "--addr", addr, "--data-dir", dir)
	key := dev.waitLine("API key:", 60*time.Second)
	if !strings.HasPrefix(key, "sk_test_") || len(key) < 40 {
		t.Fatalf("printed key %q is not a test key", key)
	}
	resp, body := get(t, "http://"+addr+"/readyz", key)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"database":"ok"`) ||
		!strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"storage":"ok"`) {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Operation-Id") == "" {
		t.Error("response has no Operation-Id")
	}
	// /metrics shares the API port here, so it takes the ops token.
	if resp, _ := get(t, "http://"+addr+"/metrics", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the ops token: %d, want 401", resp.StatusCode)
	}
	_, metrics := get(t, "http://"+addr+"/metrics", opsToken)
	if !strings.Contains(metrics, `vellum_http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200"`) {
		t.Errorf("metrics lack the readyz latency histogram:\n%.2000s", metrics)
	}
	if resp, body := get(t, "http://"+addr+"/dev/mail?format=json", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"data"`) {
		t.Errorf("dev mailbox: %d %s", resp.StatusCode, body)
	}
	checkDevTSA(t, "http://"+addr, dir)
	if err := dev.stop(30 * time.Second); err != nil {
		t.Fatalf("graceful shutdown exited with %v", err)
	}
	if !strings.Contains(dev.Stderr(), "request_id=") {
		t.Error("request logs carry no request_id")
	}

	// Same data dir: same account and key.
	dev2 := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	if again := dev2.waitLine("API key:", 60*time.Second); again != key {
		t.Fatalf("key after restart %q, want %q", again, key)
	}
	if _, err := os.Stat(filepath.Join(dir, "vellum.db")); err != nil {
		t.Fatalf("no database in the data dir: %v", err)
	}
}

func TestDev_UsesKeyFromEnvironment(t *testing.T) {
	addr := freeAddr(t)
	const key = "sk_test_e2eFixedDevelopmentKey0123456789"
	dev := start(t, []string{"VELLUM_DEV_API_KEY=" + key}, "dev", "--addr", addr, "--data-dir", t.TempDir())
	if got := dev.waitLine("API key:", 60*time.Second); got != key {
		t.Fatalf("printed %q, want the key from VELLUM_DEV_API_KEY", got)
	}
	bad := start(t, []string{"VELLUM_DEV_API_KEY=sk_live_nope"}, "dev", "--addr", freeAddr(t), "--data-dir", t.TempDir())
	if err := bad.wait(30 * time.Second); err == nil || !strings.Contains(bad.Stderr(), "VELLUM_DEV_API_KEY") {
		t.Fatalf("a malformed VELLUM_DEV_API_KEY should stop dev naming the variable; exit %v, stderr %s", err, bad.Stderr())
	}
}

func TestServe_StopsOnMissingConfigurationNamingTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"nothing set", nil, []string{"VELLUM_DATABASE_URL", "VELLUM_REDIS_URL", "VELLUM_S3_BUCKET", "VELLUM_PKI_DIR", "VELLUM_SMTP_HOST"}},
		{"no SMTP host and no VELLUM_MAIL=log", []string{"VELLUM_DATABASE_URL=postgres://x/y", "VELLUM_REDIS_URL=redis://x",
			"VELLUM_BLOB_BACKEND=fs", "VELLUM_BLOB_DIR=/tmp", "VELLUM_PKI_DIR=/tmp"}, []string{"VELLUM_SMTP_HOST", "VELLUM_MAIL=log"}},
		{"bad duration", []string{"VELLUM_SHUTDOWN_TIMEOUT=soon"}, []string{"VELLUM_SHUTDOWN_TIMEOUT"}},
		{"bad backend", []string{"VELLUM_DATABASE_URL=postgres://x/y", "VELLUM_REDIS_URL=redis://x", "VELLUM_BLOB_BACKEND=tape"}, []string{"VELLUM_BLOB_BACKEND"}},
		{"bad database scheme", []string{"VELLUM_DATABASE_URL=mysql://x/y"}, []string{"VELLUM_DATABASE_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, "serve", "--addr", freeAddr(t))
			if err := p.wait(30 * time.Second); err == nil {
				t.Fatal("serve started with invalid configuration")
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Stderr(), w) {
					t.Errorf("stderr does not name %s:\n%s", w, p.Stderr())
				}
			}
		})
	}
}

func TestServe_RefusesUnmigratedAndNewerSchema(t *testing.T) {
	ctx := context.Background()
	pg, rdb := emptyDatabases(t, "e2e_schema")
	env := []string{"VELLUM_DATABASE_URL=" + pg.URL, "VELLUM_REDIS_URL=" + rdb.URL,
		"VELLUM_BLOB_BACKEND=fs", "VELLUM_BLOB_DIR=" + t.TempDir(), "VELLUM_PKI_DIR=" + initPKI(t, "http://localhost"), "VELLUM_MAIL=log"}
	env = append(env, testKEK...)

	p := start(t, env, "serve", "--addr", freeAddr(t))
	if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "vellum migrate") {
		t.Fatalf("serve on an unmigrated database: exit %v, stderr %s", err, p.Stderr())
	}

	m := start(t, env, "migrate")
	if err := m.wait(60 * time.Second); err != nil {
		t.Fatalf("migrate: %v\n%s", err, m.Stderr())
	}
	if !strings.Contains(m.stdout.String(), "applied 0001_foundation") {
		t.Fatalf("migrate output: %s", m.stdout.String())
	}
	again := start(t, env, "migrate")
	if err := again.wait(60 * time.Second); err != nil || strings.Contains(again.stdout.String(), "applied") {
		t.Fatalf("second migrate should apply nothing: %v %s", err, again.stdout.String())
	}

	if err := pg.DB.Conn(ctx).Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', now())").Error; err != nil {
		t.Fatal(err)
	}
	p = start(t, env, "serve", "--addr", freeAddr(t))
	if err := p.wait(30 * time.Second); err == nil || !strings.Contains(p.Stderr(), "newer than this binary") {
		t.Fatalf("serve on a newer schema: exit %v, stderr %s", err, p.Stderr())
	}
}

func TestServeAndWorker_RunAgainstPostgresRedisAndS3(t *testing.T) {
	ctx := context.Background()
	pg, rdb := emptyDatabases(t, "e2e_serve")
	s3, err := testenv.StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	const opsToken = "ops-token-0123456789abcdef"
	env := append(s3.Env(), "VELLUM_DATABASE_URL="+pg.URL, "VELLUM_REDIS_URL="+rdb.URL,
		"VELLUM_OPS_TOKEN="+opsToken, "VELLUM_SHUTDOWN_TIMEOUT=10s", "VELLUM_MAIL=log")
	apiAddr, workerAddr := freeAddr(t), freeAddr(t)
	env = append(env, "VELLUM_PKI_DIR="+initPKI(t, "http://"+apiAddr), "VELLUM_PUBLIC_URL=http://"+apiAddr)
	env = append(env, testKEK...)
	if err := start(t, env, "migrate").wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	acct := start(t, env, "accounts", "create", "--name", "Acme")
	accountID := acct.waitLine("Account:", 30*time.Second)
	keys := start(t, env, "keys", "create", "--account", accountID, "--env", "live")
	if key := keys.waitLine("API key:", 30*time.Second); !strings.HasPrefix(key, "sk_live_") {
		t.Fatalf("keys create printed %q", key)
	}
	noAcct := start(t, env, "keys", "create", "--account", "acct_missing", "--env", "test")
	if err := noAcct.wait(30 * time.Second); err == nil || !strings.Contains(noAcct.Stderr(), "no account") {
		t.Fatalf("keys create for a missing account: %v %s", err, noAcct.Stderr())
	}

	api := start(t, env, "serve", "--addr", apiAddr)
	worker := start(t, env, "worker", "--addr", workerAddr)
	waitHTTP(t, "http://"+apiAddr+"/readyz", 200, 30*time.Second)
	waitHTTP(t, "http://"+workerAddr+"/readyz", 200, 30*time.Second)

	if resp, _ := get(t, "http://"+apiAddr+"/ops/queues", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ops dashboard without token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+apiAddr+"/ops/queues", nil)
	req.SetBasicAuth("ops", opsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ops dashboard with token: %d, want 200", resp.StatusCode)
	}

	// The development mailbox exists only in `vellum dev`, even when mail
	// is only logged.
	for _, addr := range []string{apiAddr, workerAddr} {
		if resp, _ := get(t, "http://"+addr+"/dev/mail?format=json", ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /dev/mail on %s: %d, want 404", addr, resp.StatusCode)
		}
	}

	// The PKI publishes what its certificates point at.
	if resp, body := get(t, "http://"+apiAddr+"/pki/ca/root.crt", ""); resp.StatusCode != http.StatusOK || len(body) < 100 {
		t.Errorf("root certificate: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, body := get(t, "http://"+apiAddr+"/pki/crl/issuing.crl", ""); resp.StatusCode != http.StatusOK || len(body) < 50 {
		t.Errorf("issuing CRL: %d, %d bytes", resp.StatusCode, len(body))
	}

	// Readiness reflects a storage outage.
	_ = s3.Close()
	waitHTTP(t, "http://"+apiAddr+"/readyz", http.StatusServiceUnavailable, 30*time.Second)

	for name, p := range map[string]*proc{"serve": api, "worker": worker} {
		if err := p.stop(30 * time.Second); err != nil {
			t.Errorf("%s exited with %v after SIGTERM", name, err)
		}
	}
}

// checkDevTSA asks dev's built-in TSA for a token with openssl and verifies
// it against the generated development root.
func checkDevTSA(t *testing.T, base, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	data, query, reply := filepath.Join(dir, "data"), filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
	if err := os.WriteFile(data, []byte("vellum e2e"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query (apt-get install openssl): %v %s", err, out)
	}
	q, _ := os.ReadFile(query)
	resp, err := http.Post(base+"/tsa", "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
		t.Fatalf("POST /tsa: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := os.WriteFile(reply, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "ts", "-verify", "-queryfile", query, "-in", reply,
		"-CAfile", filepath.Join(dataDir, "pki", "root.crt"), "-untrusted", filepath.Join(dataDir, "pki", "issuing.crt")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify of dev's TSA reply: %v\n%s", err, out)
	}
}

// initPKI runs `vellum pki init` into a temporary directory.
func initPKI(t *testing.T, publicURL string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	p := start(t, nil, "pki", "init", "--dir", dir, "--public-url", publicURL)
	if err := p.wait(60 * time.Second); err != nil {
		t.Fatalf("pki init: %v\n%s", err, p.Stderr())
	}
	return dir
}

// emptyDatabases gives a test an unmigrated PostgreSQL database and a Redis
// database of its own, released when it ends.
func emptyDatabases(t *testing.T, label string) (*testenv.Postgres, *testenv.Redis) {
	t.Helper()
	pg, err := testenv.StartEmptyPostgres(context.Background(), label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Close)
	rdb, err := testenv.StartRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rdb.Close)
	return pg, rdb
}
