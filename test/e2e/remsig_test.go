package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// remsigClient calls the RemSig surface with HTTP Basic credentials (the
// key's secret as username, an empty password).
type remsigClient struct {
	t    *testing.T
	base string
	key  string
}

func (c *remsigClient) do(method, path string, body any) (int, map[string]any, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.key, "")
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &out)
	}
	return res.StatusCode, out, raw
}

// must calls and fails unless the answer is 200.
func (c *remsigClient) must(method, path string, body any) map[string]any {
	c.t.Helper()
	st, out, raw := c.do(method, path, body)
	if st != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, st, raw)
	}
	return out
}

// waitState polls a batch until it reaches a final state.
func (c *remsigClient) waitState(hash string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := c.must(http.MethodGet, "/api/batch/"+hash+"/state", nil)["state"].(string)
		if st == "FINISHED" || st == "PARTIALLY_FINISHED" {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("batch %s still %s after %s", hash, st, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// download fetches a batch's zip and returns its files by name.
func (c *remsigClient) download(hash string) map[string][]byte {
	c.t.Helper()
	st, _, raw := c.do(http.MethodGet, "/api/batch/"+hash+"/download", nil)
	if st != http.StatusOK {
		c.t.Fatalf("download %s: %d %s", hash, st, raw)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		c.t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			c.t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return files
}

// enterPIN authorises a batch on its PIN page in the browser and returns
// the heading the page then shows.
func enterPIN(t *testing.T, browser context.Context, url, password string) string {
	t.Helper()
	if err := chromedp.Do(browser,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.ID("msg-title")),
	); err != nil {
		t.Fatalf("PIN page %s: %v", url, err)
	}
	heading, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("msg-title")))
	if err != nil {
		t.Fatal(err)
	}
	return heading
}

// submitPIN types a PIN on the PIN page and returns the text of the page
// that answers.
func submitPIN(t *testing.T, browser context.Context, url, password string) string {
	t.Helper()
	if err := chromedp.Do(browser,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.CSS(".error")),
	); err != nil {
		t.Fatalf("PIN page %s: %v", url, err)
	}
	msg, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func writeTemp(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRemSig_SignsEveryKindAuthorisedOnThePINPage runs RemSig's flows
// against `vellum dev` with the PIN typed into the PIN page in headless
// Chromium: PDFs at B, T and LT (pdfsig), PKCS #7 attached DER and detached
// PEM (openssl cms -verify), PKCS #1 (openssl pkeyutl -verify), a
// 200-task mixed batch, and five wrong PINs locking the certificate.
func TestRemSig_SignsEveryKindAuthorisedOnThePINPage(t *testing.T) {
	addr := freeAddr(t)
	dataDir := t.TempDir()
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", dataDir)
	key := dev.waitLine("API key:", 90*time.Second)
	waitHTTP(t, "http://"+addr+"/readyz", http.StatusOK, 60*time.Second)
	app := &integrator{t: t, base: "http://" + addr, key: key}
	rs := &remsigClient{t: t, base: app.base, key: key}
	browser, browserLog := newBrowser(t, 10*time.Minute)
	// Wrong PINs answer 422 and the locked certificate 422: expected.
	browserLog.expect("422")
	// redirects.success here is /healthz, which has no favicon.
	browserLog.expect("favicon.ico")
	dir := t.TempDir()
	root, issuing := filepath.Join(dataDir, "pki", "root.crt"), filepath.Join(dataDir, "pki", "issuing.crt")

	var p e2ePerson
	app.postJSON("/api/v1/persons", map[string]any{"uniqueId": "anna@uni.localhost", "email": "anna@example.com", "name": "Anna White"},
		http.StatusCreated, &p)
	app.postJSON("/api/v1/persons/"+p.ID+"/certificates", map[string]any{"password": "pin-24681357", "algorithm": "RSA-3072"},
		http.StatusCreated, nil)
	pdf, err := os.ReadFile("../fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}
	pdf64 := base64.StdEncoding.EncodeToString(pdf)
	data := []byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit.")
	data64 := base64.StdEncoding.EncodeToString(data)

	// PDFs at B, T and LT, each a single signing request.
	for _, level := range []string{"B", "T", "LT"} {
		out := rs.must(http.MethodPost, "/api/sign/pdf", map[string]any{"personUniqueId": "anna@uni.localhost",
			"data": map[string]any{"bytes": pdf64}, "name": "level-" + level + ".pdf", "signatureLevel": level,
			"watermark": map[string]any{"insert": true, "text": "Anna White", "position": "BOTTOM_RIGHT", "page": "LAST"}})
		hash := out["hash"].(string)
		if h := enterPIN(t, browser, out["authRedirectUrl"].(string), "pin-24681357"); h != "Authorised" {
			t.Fatalf("PIN page after the right PIN: %q", h)
		}
		if st := rs.waitState(hash, 2*time.Minute); st != "FINISHED" {
			t.Fatalf("level %s: %s", level, st)
		}
		f := writeTemp(t, dir, "level-"+level+".pdf", rs.download(hash)["level-"+level+".pdf"])
		valid, total, report := pdfsigReport(t, f)
		if valid != 1 || total != 1 {
			t.Fatalf("level %s: pdfsig:\n%s", level, report)
		}
		signed, _ := os.ReadFile(f)
		if level == "LT" && !bytes.Contains(signed, []byte("/DSS")) {
			t.Errorf("level LT has no DSS")
		}
		if level != "B" && !bytes.Contains(signed, []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e}) &&
			!strings.Contains(strings.ToLower(string(signed)), "060b2a864886f70d010910020e") {
			t.Errorf("level %s carries no signature timestamp token", level)
		}
	}

	// One batch: PKCS #7 attached (DER) and detached (PEM), PKCS #1.
	b := rs.must(http.MethodPost, "/api/batch/create", map[string]any{"personUniqueId": "anna@uni.localhost",
		"redirects": map[string]any{"success": app.base + "/healthz"}})["batch"].(map[string]any)
	hash := b["hash"].(string)
	rs.must(http.MethodPost, "/api/batch/"+hash+"/add/pkcs7", map[string]any{"data": map[string]any{"bytes": data64}, "name": "attached", "noDetach": true})
	rs.must(http.MethodPost, "/api/batch/"+hash+"/add/pkcs7", map[string]any{"data": map[string]any{"bytes": data64}, "name": "detached", "pem": true,
		"timestamp": map[string]any{"enabled": true}})
	rs.must(http.MethodPost, "/api/batch/"+hash+"/add/pkcs1", map[string]any{"data": map[string]any{"bytes": data64}, "name": "raw", "algorithm": "SHA256withRSA"})
	rs.must(http.MethodPost, "/api/batch/"+hash+"/close", nil)
	if err := chromedp.Do(browser,
		chromedp.Navigate(b["authRedirectUrl"].(string)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), "pin-24681357"),
		chromedp.Click(chromedp.ID("sign")),
	); err != nil {
		t.Fatal(err)
	}
	// The right PIN sends the person to redirects.success.
	waitLocation(t, browser, app.base+"/healthz", 30*time.Second)
	rs.waitState(hash, 2*time.Minute)
	files := rs.download(hash)
	content := writeTemp(t, dir, "content.txt", data)
	attached := writeTemp(t, dir, "attached.p7m", files["attached.p7m"])
	if out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", attached,
		"-CAfile", root, "-certfile", issuing, "-out", filepath.Join(dir, "attached.out")).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify (attached): %v %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "attached.out")); !bytes.Equal(got, data) {
		t.Fatalf("attached content %q", got)
	}
	detached := writeTemp(t, dir, "detached.pem", files["detached.pem"])
	if out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "PEM", "-in", detached, "-content", content,
		"-CAfile", root, "-certfile", issuing, "-out", os.DevNull).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify (detached PEM): %v %s", err, out)
	}
	cert := rs.must(http.MethodGet, "/api/certificate/latest-valid?uniqueId=anna%40uni.localhost", nil)["certificate"].(map[string]any)
	der, _ := base64.StdEncoding.DecodeString(cert["encoded"].(string))
	certFile := writeTemp(t, dir, "anna.der", der)
	pub, err := exec.Command("openssl", "x509", "-inform", "DER", "-in", certFile, "-noout", "-pubkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", writeTemp(t, dir, "pub.pem", pub),
		"-in", writeTemp(t, dir, "digest.bin", digest[:]), "-sigfile", writeTemp(t, dir, "raw.sig", files["raw.sig"]),
		"-pkeyopt", "digest:sha256").CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %v %s", err, out)
	}

	// A 200-task mixed batch under one PIN entry.
	b = rs.must(http.MethodPost, "/api/batch/create", map[string]any{"personUniqueId": "anna@uni.localhost"})["batch"].(map[string]any)
	hash = b["hash"].(string)
	var pdfs, p7s, p1s []map[string]any
	for i := 0; i < 200; i++ {
		switch i % 3 {
		case 0:
			pdfs = append(pdfs, map[string]any{"data": map[string]any{"bytes": pdf64}, "name": fmt.Sprintf("doc-%03d.pdf", i)})
		case 1:
			p7s = append(p7s, map[string]any{"data": map[string]any{"bytes": data64}, "name": fmt.Sprintf("data-%03d", i)})
		default:
			p1s = append(p1s, map[string]any{"data": map[string]any{"bytes": data64}, "name": fmt.Sprintf("raw-%03d", i)})
		}
	}
	if n := rs.must(http.MethodPost, "/api/batch/"+hash+"/add", map[string]any{"pdf": pdfs, "pkcs7": p7s, "pkcs1": p1s})["batch"].(map[string]any)["tasksCount"]; n != 200.0 {
		t.Fatalf("tasksCount %v", n)
	}
	if h := enterPIN(t, browser, b["authRedirectUrl"].(string), "pin-24681357"); h != "Authorised" {
		t.Fatalf("PIN page of the 200-task batch: %q", h)
	}
	if st := rs.waitState(hash, 8*time.Minute); st != "FINISHED" {
		t.Fatalf("200-task batch: %s", st)
	}
	files = rs.download(hash)
	if len(files) != 200 {
		t.Fatalf("the zip holds %d files, want 200", len(files))
	}
	if valid, total, report := pdfsigReport(t, writeTemp(t, dir, "doc-198.pdf", files["doc-198.pdf"])); valid != 1 || total != 1 {
		t.Fatalf("doc-198.pdf: %s", report)
	}

	// The timestamp relay: dev's built-in TSA is tsa_1; its reply passes
	// openssl ts -verify.
	servers := rs.must(http.MethodGet, "/api/timestamp/servers", nil)["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["name"] != "tsa_1" {
		t.Fatalf("timestamp servers: %v", servers)
	}
	query := filepath.Join(dir, "q.tsq")
	if out, err := exec.Command("openssl", "ts", "-query", "-data", content, "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query: %v %s", err, out)
	}
	q, _ := os.ReadFile(query)
	req, _ := http.NewRequest(http.MethodPost, app.base+"/api/timestamp/relay/tsa_1", bytes.NewReader(q))
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/timestamp-query")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/timestamp-reply" || res.Header.Get("Operation-Id") == "" {
		t.Fatalf("relay: %d %v", res.StatusCode, res.Header)
	}
	if out, err := exec.Command("openssl", "ts", "-verify", "-queryfile", query, "-in", writeTemp(t, dir, "r.tsr", reply),
		"-CAfile", root, "-untrusted", issuing).CombinedOutput(); err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify of the relayed reply: %v %s", err, out)
	}

	// Five wrong PINs lock the certificate; the right one then fails too.
	out := rs.must(http.MethodPost, "/api/sign/pkcs7", map[string]any{"personUniqueId": "anna@uni.localhost", "base64Data": data64, "name": "locked.txt"})
	for i := 1; i <= 5; i++ {
		msg := submitPIN(t, browser, out["authRedirectUrl"].(string), "wrong-pin-"+fmt.Sprint(i))
		want := fmt.Sprintf("%d attempts left", 5-i)
		if i == 4 {
			want = "1 attempt left"
		}
		if i < 5 && !strings.Contains(msg, want) {
			t.Fatalf("wrong PIN %d: %q", i, msg)
		}
		if i == 5 && !strings.Contains(msg, "locked") {
			t.Fatalf("fifth wrong PIN: %q", msg)
		}
	}
	if msg := submitPIN(t, browser, out["authRedirectUrl"].(string), "pin-24681357"); !strings.Contains(msg, "locked") {
		t.Fatalf("the right PIN on a locked certificate: %q", msg)
	}
	if st := rs.must(http.MethodGet, "/api/batch/"+out["hash"].(string)+"/state", nil)["state"]; st != "CLOSED" {
		t.Fatalf("the locked request's batch is %v", st)
	}
}
