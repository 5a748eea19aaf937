package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium; VELLUM_CHROMIUM overrides it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("VELLUM_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		// The signing page's browser test is part of the definition of done:
		// a missing browser is a broken test machine, not a reason to skip.
		t.Fatalf("chromium not found at %s (%v): install it with `apt-get install -y chromium` or set VELLUM_CHROMIUM", p, err)
	}
	return p
}

// phone is the viewport the signing page is tested in: a common phone in
// portrait (CSS pixels), at a phone's pixel density.
const phoneWidth, phoneHeight, phoneScale = 390, 844, 2

// newBrowser starts a fresh headless Chromium (its own profile directory)
// and returns a tab context emulating a phone. Script exceptions and
// console or browser errors (a CSP violation is one) fail the test when it
// ends, so they cannot pass unnoticed.
func newBrowser(t *testing.T, timeout time.Duration) (context.Context, *browserLog) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(phoneWidth, phoneHeight),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)

	bl := &browserLog{}
	var wg sync.WaitGroup
	// Cleanups run in reverse, so the browser exits before its profile
	// directory (registered above by t.TempDir) is removed.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		wg.Wait()
		for _, p := range bl.unexpected() {
			t.Errorf("browser reported: %s", p)
		}
	})
	exceptions := chromedp.Events(bctx, runtime.ExceptionThrown)
	entries := chromedp.Events(bctx, cdplog.EntryAdded)
	console := chromedp.Events(bctx, runtime.ConsoleAPICalled)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(phoneWidth, phoneHeight,
		chromedp.EmulateScale(phoneScale), chromedp.EmulateMobile, chromedp.EmulatePortrait)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			bl.note("JavaScript exception: " + ev.ExceptionDetails.Text + " " + describe(ev.ExceptionDetails.Exception))
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError && !statePageLoad(ev.Entry) {
				bl.note(fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, describe(a))
				}
				bl.note("console.error: " + strings.Join(args, " "))
			}
		}
	}()
	return bctx, bl
}

// browserLog collects what the browser reports as going wrong, so the test
// can fail on it when it ends.
type browserLog struct {
	mu       sync.Mutex
	problems []string
	expected []string
}

func (b *browserLog) note(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// expect excuses reports containing substr: an error the test provokes.
func (b *browserLog) expect(substr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected = append(b.expected, substr)
}

func (b *browserLog) unexpected() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, p := range b.problems {
		for _, e := range b.expected {
			if strings.Contains(p, e) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// statePageLoad passes the failed-load report of a state page, whose
// status (404, 409, 410) is logged as an error although it renders fine.
func statePageLoad(e *cdplog.Entry) bool {
	return e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.URL, "/s/") && !strings.Contains(e.URL, "/s/assets/")
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

// screenshot saves a full-page PNG of the tab to $VELLUM_E2E_SCREENSHOTS
// (or the test's temporary directory) and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("VELLUM_E2E_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// integrator is a minimal client of the integrator API of a running vellum.
type integrator struct {
	t    *testing.T
	base string
	key  string
}

// in returns the client failing t, for use inside a subtest.
func (c *integrator) in(t *testing.T) *integrator {
	cp := *c
	cp.t = t
	return &cp
}

// call sends a JSON (or raw) request and decodes a JSON answer into out,
// failing the test unless the status is want.
func (c *integrator) call(method, path, contentType string, body []byte, want int, out any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func (c *integrator) postJSON(path string, in any, want int, out any) {
	c.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		c.t.Fatal(err)
	}
	c.call(http.MethodPost, path, "application/json", b, want, out)
}

// envelopeJSON is the part of the envelope resource the tests read.
type envelopeJSON struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Recipients []struct {
		ID            string `json:"id"`
		Email         string `json:"email"`
		Status        string `json:"status"`
		SignURL       string `json:"signUrl"`
		DeclineReason string `json:"declineReason"`
	} `json:"recipients"`
}

// uploadFixture uploads a PDF from test/fixtures and returns its id.
func (c *integrator) uploadFixture(name string) string {
	c.t.Helper()
	pdf, err := os.ReadFile(filepath.Join("..", "fixtures", name))
	if err != nil {
		c.t.Fatal(err)
	}
	var doc struct {
		ID string `json:"id"`
	}
	c.call(http.MethodPost, "/api/v1/documents?filename="+name, "application/pdf", pdf, http.StatusCreated, &doc)
	return doc.ID
}

// sendEnvelope creates and sends an envelope and returns it with signUrls.
func (c *integrator) sendEnvelope(body map[string]any) envelopeJSON {
	c.t.Helper()
	var env envelopeJSON
	c.postJSON("/api/v1/envelopes", body, http.StatusCreated, &env)
	c.postJSON("/api/v1/envelopes/"+env.ID+"/send", map[string]any{}, http.StatusOK, nil)
	return c.envelope(env.ID)
}

func (c *integrator) envelope(id string) envelopeJSON {
	c.t.Helper()
	var env envelopeJSON
	c.call(http.MethodGet, "/api/v1/envelopes/"+id, "", nil, http.StatusOK, &env)
	return env
}

// waitRecipient polls the envelope until recipient i has status want.
func (c *integrator) waitRecipient(id string, i int, want string, within time.Duration) envelopeJSON {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		env := c.envelope(id)
		if len(env.Recipients) > i && env.Recipients[i].Status == want {
			return env
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("recipient %d of envelope %s did not become %s within %s: %+v", i, id, want, within, env)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// devMailCode waits for a one-time code mailed to addr by `vellum dev`
// (GET /dev/mail) and returns it.
func (c *integrator) devMailCode(addr string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var box struct {
			Data []struct {
				To   []string `json:"to"`
				Text string   `json:"text"`
				Tag  string   `json:"tag"`
			} `json:"data"`
		}
		c.call(http.MethodGet, "/dev/mail?format=json", "", nil, http.StatusOK, &box)
		for _, m := range box.Data { // newest first
			if m.Tag != "otp" || !strings.Contains(strings.Join(m.To, ","), addr) {
				continue
			}
			if code := sixDigits(m.Text); code != "" {
				return code
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no one-time code mailed to %s within %s", addr, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sixDigits(s string) string {
	for i := 0; i+6 <= len(s); i++ {
		w := s[i : i+6]
		if strings.Trim(w, "0123456789") == "" &&
			(i == 0 || s[i-1] < '0' || s[i-1] > '9') && (i+6 == len(s) || s[i+6] < '0' || s[i+6] > '9') {
			return w
		}
	}
	return ""
}

// startDev runs `vellum dev` on a free port and returns its integrator
// client.
func startDev(t *testing.T) *integrator {
	t.Helper()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", t.TempDir())
	key := dev.waitLine("API key:", 90*time.Second)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 60*time.Second)
	return &integrator{t: t, base: "http://" + addr, key: key}
}
