package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/db"
)

// TestDev_KillNineWhileSigningThenRestart_ExactlyOneSignaturePerSigner kills
// `vellum dev` with SIGKILL right after signers have signed, while their
// signing and finalizing tasks are queued or running, restarts it on the same
// data dir and checks every envelope completes with exactly one signature per
// signer. The in-process Redis comes back empty: only the outbox remembers.
func TestDev_KillNineWhileSigningThenRestart_ExactlyOneSignaturePerSigner(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	key := dev.waitLine("API key:", 90*time.Second)
	c := &integrator{t: t, base: "http://" + addr, key: key}
	doc := c.uploadFixture("test.pdf")

	const n = 6
	var ids []string
	var tokens []string
	for i := 0; i < n; i++ {
		env := c.sendEnvelope(map[string]any{
			"subject":     "Crash test",
			"documentIds": []string{doc},
			"recipients":  []map[string]any{{"email": "crash@example.com", "name": "Crash Signer", "role": "SIGNER"}},
		})
		ids = append(ids, env.ID)
		u := env.Recipients[0].SignURL
		tokens = append(tokens, u[strings.LastIndex(u, "/")+1:])
	}
	for _, tok := range tokens {
		c.postJSON("/api/v1/signer/"+tok+"/sign", map[string]any{
			"consent": true, "signature": map[string]any{"type": "typed", "text": "Crash Signer"},
		}, http.StatusOK, nil)
	}
	if err := dev.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-dev.done

	// The process is gone; the database says what was left unfinished.
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite://"+filepath.Join(dir, "vellum.db"))
	if err != nil {
		t.Fatal(err)
	}
	var unfinished int64
	if err := d.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE status NOT IN ('done', 'failed')").Scan(&unfinished).Error; err != nil {
		t.Fatal(err)
	}
	d.Close()
	if unfinished == 0 {
		t.Fatal("every task had finished before the kill; the test proves nothing")
	}
	t.Logf("killed with %d unfinished tasks", unfinished)

	dev2 := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	dev2.waitLine("API key:", 90*time.Second)
	// Signing tokens are credentials: request logs show the route, not them.
	for _, tok := range tokens {
		if resp, _ := get(t, c.base+"/s/"+tok, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("signing page after signing: %d", resp.StatusCode)
		}
		if strings.Contains(dev.Stderr(), tok) || strings.Contains(dev2.Stderr(), tok) {
			t.Errorf("the log contains signing token %s…", tok[:6])
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range ids {
		for c.envelope(id).Status != "COMPLETED" {
			if time.Now().After(deadline) {
				t.Fatalf("envelope %s is %s, not COMPLETED, 3 minutes after the restart", id, c.envelope(id).Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
		pdf := filepath.Join(t.TempDir(), id+".pdf")
		req, _ := http.NewRequest(http.MethodGet, c.base+"/api/v1/envelopes/"+id+"/signed-document", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("signed-document of %s: %d", id, res.StatusCode)
		}
		if err := os.WriteFile(pdf, body, 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command("pdfsig", pdf).CombinedOutput()
		cades := strings.Count(string(out), "ETSI.CAdES.detached")
		valid := strings.Count(string(out), "Signature is Valid.")
		if cades != 1 || valid != 1 {
			t.Errorf("envelope %s: %d CAdES signatures (%d valid), want exactly one valid:\n%s", id, cades, valid, out)
		}
	}
}

func readAll(t *testing.T, res *http.Response) []byte {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
