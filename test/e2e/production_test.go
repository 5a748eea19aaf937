package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// productionBinary is the -tags production build: $VELLUM_PRODUCTION_BIN
// (`make test` passes `make build-production`'s), else built here by the
// same script.
func productionBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("VELLUM_PRODUCTION_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "vellum-production")
	out, err := exec.Command("../../scripts/build-production.sh", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-production.sh: %v\n%s", err, out)
	}
	return bin
}

// TestProductionBuild_ServesWithoutWhatOnlyDevNeeds runs the production
// build: no `vellum dev`, no SQLite, and the operators' queue dashboard
// still served, without its JavaScript source maps.
func TestProductionBuild_ServesWithoutWhatOnlyDevNeeds(t *testing.T) {
	bin := productionBinary(t)
	dev := startBinary(t, bin, nil, "dev", "--addr", freeAddr(t), "--data-dir", t.TempDir())
	if err := dev.wait(30 * time.Second); err == nil || !strings.Contains(dev.Stderr(), "-tags production") {
		t.Fatalf("dev in the production build: exit %v, stderr %s", err, dev.Stderr())
	}
	lite := startBinary(t, bin, []string{"VELLUM_DATABASE_URL=sqlite://" + filepath.Join(t.TempDir(), "v.db")}, "migrate")
	if err := lite.wait(30 * time.Second); err == nil || !strings.Contains(lite.Stderr(), "without SQLite") {
		t.Fatalf("migrate on SQLite in the production build: exit %v, stderr %s", err, lite.Stderr())
	}

	pg, rdb := emptyDatabases(t, "e2e_production")
	addr := freeAddr(t)
	const opsToken = "ops-token-0123456789abcdef"
	env := []string{"VELLUM_DATABASE_URL=" + pg.URL, "VELLUM_REDIS_URL=" + rdb.URL, "VELLUM_BLOB_BACKEND=fs",
		"VELLUM_BLOB_DIR=" + t.TempDir(), "VELLUM_PKI_DIR=" + initPKI(t, "http://"+addr), "VELLUM_PUBLIC_URL=http://" + addr,
		"VELLUM_MAIL=log", "VELLUM_OPS_TOKEN=" + opsToken}
	env = append(env, testKEK...)
	if err := startBinary(t, bin, env, "migrate").wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	api := startBinary(t, bin, env, "serve", "--addr", addr)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 30*time.Second)
	resp, page := get(t, "http://"+addr+"/ops/queues?token="+opsToken, "")
	script := regexp.MustCompile(`/ops/queues/static/js/main\.[0-9a-f]+\.chunk\.js`).FindString(page)
	if resp.StatusCode != http.StatusOK || script == "" {
		t.Fatalf("dashboard: %d, no main script in %.500s", resp.StatusCode, page)
	}
	if resp, body := get(t, "http://"+addr+script, opsToken); resp.StatusCode != http.StatusOK || len(body) < 1000 {
		t.Errorf("dashboard script %s: %d, %d bytes", script, resp.StatusCode, len(body))
	}
	// The dashboard answers unknown paths with its index page, so look at
	// what comes back rather than at the status.
	if _, body := get(t, "http://"+addr+script+".map", opsToken); strings.HasPrefix(body, `{"version":3`) {
		t.Errorf("dashboard source map %s.map is still in the production build", script)
	}
	if err := api.stop(30 * time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
}
