package e2e

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPortalPage drives the certificate portal in headless Chromium on a
// phone-sized viewport against `vellum dev`: log in, read my certificates
// and one in detail, make one primary, link one by signing a challenge,
// and check that a form on another site changes nothing; then log out.
func TestPortalPage(t *testing.T) {
	app, _ := startDevProc(t)
	// The API is reached as 127.0.0.1; the attacker below is "localhost",
	// another site.
	browser, browserLog := newBrowser(t, 5*time.Minute)
	var p e2ePerson
	app.postJSON("/api/v1/persons", map[string]any{"uniqueId": "aigul@uni.localhost", "email": "aigul@example.com",
		"name": "AKHMETOVA AIGUL ERKINOVNA", "nationalId": "IIN123456789012", "password": "portal-password"}, http.StatusCreated, &p)
	var issued, linked e2eCertificate
	app.postJSON("/api/v1/persons/"+p.ID+"/certificates", map[string]any{"password": "pin-24681357"}, http.StatusCreated, &issued)
	_, _, linkedPEM := selfSignedCert(t, "AKHMETOVA AIGUL (token)")
	app.postJSON("/api/v1/persons/"+p.ID+"/certificates", map[string]any{"certificate": linkedPEM}, http.StatusCreated, &linked)
	portal := app.base + "/portal"
	checkPageHeaders(t, portal)

	// Log in.
	if err := chromedp.Do(browser,
		chromedp.Navigate(portal),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("email"), "aigul@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong password"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	); err != nil {
		t.Fatalf("log in with a wrong password: %v", err)
	}
	browserLog.expect("401")
	if msg, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("login-error"))); !strings.Contains(msg, "e-mail address or password is wrong") {
		t.Errorf("wrong password message %q", msg)
	}
	if err := chromedp.Do(browser,
		chromedp.SetValue(chromedp.ID("password"), "portal-password"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("certs")),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	if n, _ := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelectorAll('#certs li.cert').length`)); n != 2 {
		t.Fatalf("%d certificates listed, want 2", n)
	}
	if text, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("certs"))); !strings.Contains(text, "123456******") || !strings.Contains(text, "ECDSA-P256") {
		t.Errorf("list text %q lacks the masked IIN or the algorithm", text)
	}
	checkNoHorizontalScroll(t, browser)
	screenshot(t, browser, "portal-certificates-phone")

	// Details.
	if err := chromedp.Do(browser,
		chromedp.Click(chromedp.CSS(`li[data-cert-id="`+issued.ID+`"] a`)),
		chromedp.WaitVisible(chromedp.ID("extensions")),
	); err != nil {
		t.Fatalf("open details: %v", err)
	}
	if text, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("extensions"))); !strings.Contains(text, "keyUsage") ||
		!strings.Contains(text, "cRLDistributionPoints") || !strings.Contains(text, "/pki/crl/issuing.crl") {
		t.Errorf("extensions table %q", text)
	}
	screenshot(t, browser, "portal-detail-phone")

	// Make the linked certificate primary.
	if err := chromedp.Do(browser,
		chromedp.Navigate(portal),
		chromedp.Click(chromedp.CSS(`[data-make-primary="`+linked.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`li.is-primary[data-cert-id="`+linked.ID+`"]`)),
	); err != nil {
		t.Fatalf("make primary: %v", err)
	}
	if primary := primaryOf(t, app, p.ID); primary != linked.ID {
		t.Fatalf("primary is %s, want %s", primary, linked.ID)
	}

	// Link a certificate by signing the challenge with its key.
	key, _, certPEM := selfSignedCert(t, "AKHMETOVA AIGUL (second token)")
	if err := chromedp.Do(browser,
		chromedp.SetValue(chromedp.ID("link-certificate"), certPEM),
		chromedp.Click(chromedp.ID("link-challenge")),
		chromedp.WaitVisible(chromedp.ID("challenge-box")),
	); err != nil {
		t.Fatalf("get a challenge: %v", err)
	}
	challenge, err := chromedp.Run(browser, chromedp.Value(chromedp.ID("challenge")))
	if err != nil || !strings.HasPrefix(challenge, "vellum-link-v1:") {
		t.Fatalf("challenge %q: %v", challenge, err)
	}
	digest := sha256.Sum256([]byte(challenge))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err := chromedp.Do(browser,
		chromedp.SetValue(chromedp.ID("link-signature"), base64.StdEncoding.EncodeToString(sig)),
		chromedp.Click(chromedp.ID("link-submit")),
	); err != nil {
		t.Fatalf("link: %v", err)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(chromedp.CSS("#certs li.cert:nth-child(3)"))); err != nil {
		t.Fatalf("the linked certificate did not appear: %v", err)
	}

	// A form on another site posts to the API while the person is logged
	// in: the session cookie (SameSite=Lax) does not go with it, there is
	// no anti-forgery header, and the body is not JSON. Nothing changes.
	attacker := attackerSite(t, app.base, issued.ID)
	browserLog.expect("401")
	browserLog.expect("403")
	browserLog.expect("415")
	browserLog.expect("favicon.ico") // the browser asks the API for one when it shows the answer
	if err := chromedp.Do(browser, chromedp.Navigate(attacker)); err != nil {
		t.Fatalf("open the attacker's page: %v", err)
	}
	waitLocation(t, browser, app.base+"/api/cert/"+issued.ID+"/primary", 30*time.Second)
	if err := chromedp.Do(browser, chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	answer, _ := chromedp.Run(browser, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(answer, "not_logged_in") {
		t.Errorf("the cross-site form reached the API with the session: %q", answer)
	}
	if primary := primaryOf(t, app, p.ID); primary != linked.ID {
		t.Fatalf("a cross-site request changed the primary certificate to %s", primary)
	}

	// Still logged in on the portal itself; log out.
	if err := chromedp.Do(browser,
		chromedp.Navigate(portal),
		chromedp.WaitVisible(chromedp.ID("certs")),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	); err != nil {
		t.Fatalf("log out: %v", err)
	}
}

func primaryOf(t *testing.T, app *integrator, personID string) string {
	t.Helper()
	var page struct {
		Data []e2eCertificate `json:"data"`
	}
	app.call(http.MethodGet, "/api/v1/persons/"+personID+"/certificates", "", nil, http.StatusOK, &page)
	for _, c := range page.Data {
		if c.IsPrimary {
			return c.ID
		}
	}
	return ""
}

// attackerSite serves, on http://localhost:<port> (another site than the
// API's 127.0.0.1), a page that fires a credentialed no-cors fetch and then
// auto-submits a text/plain form shaped like JSON, both to make certID
// primary.
func attackerSite(t *testing.T, apiBase, certID string) string {
	t.Helper()
	target := apiBase + "/api/cert/" + certID + "/primary"
	page := fmt.Sprintf(`<!doctype html><html><body>
<form id="f" method="POST" action="%s" enctype="text/plain"><input name='{"x":"' value='"}'></form>
<script>
// The form goes once the fetch has had its answer, so when the page has
// navigated to the API both requests are done.
fetch(%q, {method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}'})
  .finally(function () { document.getElementById('f').submit(); });
</script></body></html>`, target, target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://localhost:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) + "/"
}
