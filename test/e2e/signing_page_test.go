package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestSigningPage drives the signer's HTML page in headless Chromium on a
// phone-sized viewport against `vellum dev`: from the signUrl the
// integrator API hands out to the done page, checking the outcome through
// the integrator API.
func TestSigningPage(t *testing.T) {
	app := startDev(t)
	browser, browserLog := newBrowser(t, 5*time.Minute)
	docID := app.uploadFixture("test.pdf")

	t.Run("drawn signature from invitation link to done page", func(t *testing.T) {
		app := app.in(t)
		env := app.sendEnvelope(map[string]any{
			"subject":     "Employment contract",
			"message":     "Hello Ada,\nplease sign the attached contract.",
			"documentIds": []string{docID},
			"recipients": []map[string]any{{
				"email": "ada@example.com", "name": "Ada Lovelace", "role": "SIGNER",
				"fields": []map[string]any{
					{"documentId": docID, "type": "SIGNATURE", "page": 1, "x": 50, "y": 50, "width": 160, "height": 50, "required": true},
					{"documentId": docID, "type": "TEXT", "page": 1, "x": 50, "y": 120, "width": 160, "height": 20, "required": true},
				},
			}},
		})
		signURL := env.Recipients[0].SignURL
		if !strings.Contains(signURL, "/s/") {
			t.Fatalf("recipient has no signUrl after send: %+v", env.Recipients[0])
		}
		checkPageHeaders(t, signURL)

		if err := chromedp.Do(browser,
			chromedp.Navigate(signURL),
			chromedp.WaitVisible(chromedp.ID("sign-form")),
		); err != nil {
			t.Fatalf("open the signing page: %v", err)
		}
		heading, err := chromedp.Run(browser, chromedp.Text(chromedp.ID("subject")))
		if err != nil || heading != "Employment contract" {
			t.Fatalf("page heading %q (%v), want the envelope subject", heading, err)
		}
		checkNoHorizontalScroll(t, browser)
		checkDocumentOpens(t, browser)
		screenshot(t, browser, "signing-page-phone")

		if err := chromedp.Do(browser,
			chromedp.SendKeys(chromedp.CSS(`input[data-kind="text"]`), "Chief Analyst"),
			chromedp.Click(chromedp.CSS(`label[for="sig-mode-drawn"]`)),
			chromedp.WaitVisible(chromedp.ID("pad")),
		); err != nil {
			t.Fatalf("choose to draw: %v", err)
		}
		drawSignature(t, browser)
		if got, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("pad-status"))); got != "Signature drawn." {
			t.Fatalf("pad status %q after drawing, want %q", got, "Signature drawn.")
		}

		// Signing without consent is refused on the page, naming the box.
		if err := chromedp.Do(browser,
			chromedp.Click(chromedp.ID("sign-submit")),
			chromedp.WaitVisible(chromedp.ID("sign-errors")),
		); err != nil {
			t.Fatalf("submit without consent: %v", err)
		}
		if msg, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("sign-errors"))); !strings.Contains(msg, "agree") {
			t.Fatalf("error summary %q does not ask for consent", msg)
		}
		if focused, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "sign-errors" {
			t.Errorf("focus is on %q after a failed submit, want the error summary", focused)
		}

		if err := chromedp.Do(browser, chromedp.Click(chromedp.ID("consent"))); err != nil {
			t.Fatal(err)
		}
		screenshot(t, browser, "signing-page-filled-phone")
		if err := chromedp.Do(browser,
			chromedp.Click(chromedp.ID("sign-submit")),
			chromedp.WaitVisible(chromedp.ID("done-signed")),
		); err != nil {
			t.Fatalf("sign: %v", err)
		}
		screenshot(t, browser, "done-page-phone")

		got := app.waitRecipient(env.ID, 0, "SIGNED", 30*time.Second)
		t.Logf("envelope %s: recipient %s", got.ID, got.Recipients[0].Status)

		// The link now explains itself instead of offering the form again.
		checkStatePage(t, browser, signURL, "signed", "You have signed")
		screenshot(t, browser, "already-signed-phone")
	})

	t.Run("decline with a reason", func(t *testing.T) {
		app := app.in(t)
		env := app.sendEnvelope(map[string]any{
			"subject":     "NDA",
			"documentIds": []string{docID},
			"recipients":  []map[string]any{{"email": "bob@example.com", "name": "Bob Byte", "role": "SIGNER"}},
		})
		signURL := env.Recipients[0].SignURL
		if err := chromedp.Do(browser,
			chromedp.Navigate(signURL),
			chromedp.WaitVisible(chromedp.ID("sign-form")),
			chromedp.Click(chromedp.ID("decline-open")),
			chromedp.WaitVisible(chromedp.ID("decline-reason")),
		); err != nil {
			t.Fatalf("open the decline form: %v", err)
		}
		if focused, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "decline-reason" {
			t.Errorf("focus is on %q after opening the decline form, want the reason", focused)
		}
		if err := chromedp.Do(browser,
			chromedp.SendKeys(chromedp.ID("decline-reason"), "The salary is wrong."),
			chromedp.Click(chromedp.ID("decline-submit")),
			chromedp.WaitVisible(chromedp.ID("done-declined")),
		); err != nil {
			t.Fatalf("decline: %v", err)
		}
		screenshot(t, browser, "declined-phone")
		got := app.waitRecipient(env.ID, 0, "DECLINED", 30*time.Second)
		if got.Status != "DECLINED" || got.Recipients[0].DeclineReason != "The salary is wrong." {
			t.Fatalf("after declining: envelope %s, reason %q", got.Status, got.Recipients[0].DeclineReason)
		}
		checkStatePage(t, browser, signURL, "declined", "You declined to sign")
	})

	t.Run("access code, typed signature and success redirect", func(t *testing.T) {
		app := app.in(t)
		redirect := app.base + "/healthz?signed=1"
		env := app.sendEnvelope(map[string]any{
			"subject":     "Lease",
			"documentIds": []string{docID},
			"redirects":   map[string]any{"success": redirect},
			"recipients": []map[string]any{{
				"email": "cy@example.com", "name": "Cy Press", "role": "SIGNER",
				"auth": map[string]any{"method": "ACCESS_CODE", "accessCode": "4711-AB"},
			}},
		})
		browserLog.expect("status of 403") // the wrong code, below
		if err := chromedp.Do(browser,
			chromedp.Navigate(env.Recipients[0].SignURL),
			chromedp.WaitVisible(chromedp.ID("access-code")),
			chromedp.SendKeys(chromedp.ID("access-code"), "0000-XX"),
			chromedp.Click(chromedp.ID("consent")),
			chromedp.Click(chromedp.ID("sign-submit")),
			chromedp.WaitVisible(chromedp.ID("sign-errors")),
		); err != nil {
			t.Fatalf("sign with a wrong access code: %v", err)
		}
		if inv, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById('access-code').getAttribute('aria-invalid')`)); inv != "true" {
			t.Errorf("a wrong access code does not mark the input invalid (aria-invalid=%q)", inv)
		}
		if msg, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("sign-errors"))); !strings.Contains(msg, "The access code is not correct. 4 attempts left.") {
			t.Errorf("error summary after a wrong access code: %q", msg)
		}
		screenshot(t, browser, "access-code-wrong-phone")
		if err := chromedp.Do(browser,
			chromedp.Evaluate[chromedp.Void](`document.getElementById('access-code').value = ''`),
			chromedp.SendKeys(chromedp.ID("access-code"), "4711-AB"),
			chromedp.Click(chromedp.ID("sign-submit")),
			chromedp.WaitVisible(chromedp.ID("done-signed")),
		); err != nil {
			t.Fatalf("sign with the access code: %v", err)
		}
		// The page shows the done panel, then leaves for the success URL.
		browserLog.expect("/favicon.ico") // asked for by the JSON page redirected to
		waitLocation(t, browser, redirect, 15*time.Second)
		app.waitRecipient(env.ID, 0, "SIGNED", 30*time.Second)
	})

	t.Run("e-mail one-time code", func(t *testing.T) {
		app := app.in(t)
		env := app.sendEnvelope(map[string]any{
			"subject":     "Loan agreement",
			"documentIds": []string{docID},
			"recipients": []map[string]any{{
				"email": "dee@example.com", "name": "Dee Ramsey", "role": "SIGNER",
				"auth": map[string]any{"method": "EMAIL_OTP"},
			}},
		})
		if err := chromedp.Do(browser,
			chromedp.Navigate(env.Recipients[0].SignURL),
			chromedp.WaitVisible(chromedp.ID("otp-send")),
			chromedp.Click(chromedp.ID("otp-send")),
			chromedp.WaitVisible(chromedp.ID("otp")),
		); err != nil {
			t.Fatalf("request a code: %v", err)
		}
		code := app.devMailCode("dee@example.com", 30*time.Second)
		if err := chromedp.Do(browser,
			chromedp.SendKeys(chromedp.ID("otp"), code),
			chromedp.Click(chromedp.ID("consent")),
		); err != nil {
			t.Fatal(err)
		}
		screenshot(t, browser, "otp-phone")
		if err := chromedp.Do(browser,
			chromedp.Click(chromedp.ID("sign-submit")),
			chromedp.WaitVisible(chromedp.ID("done-signed")),
		); err != nil {
			t.Fatalf("sign with the code: %v", err)
		}
		app.waitRecipient(env.ID, 0, "SIGNED", 30*time.Second)
	})

	t.Run("typed preview in the stamp's faces", func(t *testing.T) {
		app := app.in(t)
		env := app.sendEnvelope(map[string]any{
			"subject":     "Faces",
			"documentIds": []string{docID},
			"recipients":  []map[string]any{{"email": "jane@example.com", "name": "Jane Q. Public", "role": "SIGNER"}},
		})
		if err := chromedp.Do(browser,
			chromedp.Navigate(env.Recipients[0].SignURL),
			chromedp.WaitVisible(chromedp.ID("typed-preview")),
		); err != nil {
			t.Fatal(err)
		}
		// Both faces load from our own origin under the page's CSP, and the
		// browser's font sanitiser accepts the subsets pkg/truetype wrote.
		const load = `Promise.all([document.fonts.load('40px "Vellum Handwriting"', 'Jane'), document.fonts.load('40px "Vellum Serif Italic"', 'Ұлы')]);` +
			`[...document.fonts].map(f => f.family + '=' + f.status).sort().join(' ')`
		var faces string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			faces, _ = chromedp.Run(browser, chromedp.Evaluate[string](load))
			if !strings.Contains(faces, "loading") && !strings.Contains(faces, "unloaded") {
				break
			}
		}
		if faces != `"Vellum Handwriting"=loaded "Vellum Serif Italic"=loaded` && faces != "Vellum Handwriting=loaded Vellum Serif Italic=loaded" {
			t.Fatalf("signature faces: %s", faces)
		}
		class := func() string {
			c, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById('typed-preview').className + ' ' + getComputedStyle(document.getElementById('typed-preview')).fontFamily`))
			return c
		}
		if c := class(); c != `typed-preview "Vellum Handwriting", cursive` {
			t.Errorf("a Latin name previews as %q, want the handwriting face", c)
		}
		screenshot(t, browser, "typed-preview-handwriting")
		if err := chromedp.Do(browser, chromedp.SendKeys(chromedp.ID("typed-name"), " Dvořák Ұлы")); err != nil {
			t.Fatal(err)
		}
		// Kristi has no ř: the whole name switches to the serif italic, as
		// pdffont.SignatureStack draws it on the stamp.
		if c := class(); c != `typed-preview serif "Vellum Serif Italic", serif` {
			t.Errorf("a name with ř and Ұ previews as %q, want the serif italic", c)
		}
		screenshot(t, browser, "typed-preview-serif")
	})

	t.Run("keyboard only", func(t *testing.T) {
		app := app.in(t)
		env := app.sendEnvelope(map[string]any{
			"subject":     "Keyboard",
			"documentIds": []string{docID},
			"recipients":  []map[string]any{{"email": "kay@example.com", "name": "Kay Board", "role": "SIGNER"}},
		})
		if err := chromedp.Do(browser,
			chromedp.Navigate(env.Recipients[0].SignURL),
			chromedp.WaitVisible(chromedp.ID("typed-name")),
			chromedp.Focus(chromedp.ID("typed-name")),
		); err != nil {
			t.Fatal(err)
		}
		// From the typed name, Tab reaches the consent box and then Sign, in
		// that order; Space ticks the box and Enter signs.
		var order []string
		for range 6 {
			if err := chromedp.Do(browser, chromedp.KeyEvent(kb.Tab)); err != nil {
				t.Fatal(err)
			}
			id, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.activeElement.id`))
			order = append(order, id)
			if id == "consent" {
				if err := chromedp.Do(browser, chromedp.KeyEvent(" ")); err != nil {
					t.Fatal(err)
				}
			}
			if id == "sign-submit" {
				break
			}
		}
		if strings.Join(order, " ") != "consent sign-submit" {
			t.Fatalf("tab order from the typed name: %v, want consent then sign-submit", order)
		}
		if err := chromedp.Do(browser,
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.ID("done-signed")),
		); err != nil {
			t.Fatalf("sign with the keyboard: %v", err)
		}
		if focused, _ := chromedp.Run(browser, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "done-signed" {
			t.Errorf("focus after signing is on %q, want the done panel", focused)
		}
		app.waitRecipient(env.ID, 0, "SIGNED", 30*time.Second)
	})

	t.Run("unknown link", func(t *testing.T) {
		app := app.in(t)
		checkStatePage(t, browser, app.base+"/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown", "This link is not valid")
	})
}

// checkPageHeaders fetches the page outside the browser and checks the
// headers that keep the token and the page safe.
func checkPageHeaders(t *testing.T, url string) {
	t.Helper()
	res, body := get(t, url, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP admits inline code: %s", csp)
	}
	for k, v := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if res.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, res.Header.Get(k), v)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<style") {
		t.Error("the page has inline script or style")
	}
}

// checkNoHorizontalScroll asserts the page fits the phone's width.
func checkNoHorizontalScroll(t *testing.T, ctx context.Context) {
	t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil || w > 0 {
		t.Errorf("page is %v px wider than the phone (%v)", w, err)
	}
}

// checkDocumentOpens opens the first document's preview and checks that
// the signer API served the PDF into it.
func checkDocumentOpens(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-preview]`)),
		chromedp.WaitVisible(chromedp.CSS(`.preview iframe`)),
		chromedp.WaitReady(chromedp.CSS(`.preview[aria-busy="false"]`)),
	); err != nil {
		t.Fatalf("open the document preview: %v", err)
	}
	// The PDF viewer paints after the frame's load event; give it a moment
	// so the screenshot shows the document.
	time.Sleep(time.Second)
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.doc a').href`))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := get(t, href, "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("document link %s: %d %s", href, res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// drawSignature draws two strokes across the canvas with mouse events, as
// a person would: press, move in small steps, release.
func drawSignature(t *testing.T, ctx context.Context) {
	t.Helper()
	type rect struct{ X, Y, W, H float64 }
	r, err := chromedp.Run(ctx, chromedp.Evaluate[rect](`(() => {
		const c = document.getElementById('pad');
		c.scrollIntoView({block: 'center'});
		const b = c.getBoundingClientRect();
		return {X: b.left, Y: b.top, W: b.width, H: b.height};
	})()`))
	if err != nil || r.W < 100 || r.H < 50 {
		t.Fatalf("signature pad at %+v (%v): too small to draw on", r, err)
	}
	held := func(p *input.DispatchMouseEventParams) {
		p.Button = input.MouseButtonLeft
		p.Buttons = 1
	}
	stroke := func(points [][2]float64) []chromedp.Action[chromedp.Void] {
		at := func(i int) (float64, float64) { return r.X + points[i][0]*r.W, r.Y + points[i][1]*r.H }
		x, y := at(0)
		acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x, y, held, chromedp.ClickCount(1))}
		for i := 1; i < len(points); i++ {
			x0, y0 := at(i - 1)
			x1, y1 := at(i)
			for s := 1; s <= 5; s++ {
				f := float64(s) / 5
				acts = append(acts, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, held))
			}
		}
		x, y = at(len(points) - 1)
		return append(acts, chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	}
	var acts []chromedp.Action[chromedp.Void]
	acts = append(acts, stroke([][2]float64{{0.1, 0.7}, {0.2, 0.3}, {0.3, 0.7}, {0.4, 0.35}, {0.5, 0.65}, {0.6, 0.4}})...)
	acts = append(acts, stroke([][2]float64{{0.55, 0.55}, {0.7, 0.5}, {0.9, 0.45}})...)
	if err := chromedp.Do(ctx, acts...); err != nil {
		t.Fatalf("draw: %v", err)
	}
}

// checkStatePage opens url and expects the state page kind with heading.
func checkStatePage(t *testing.T, ctx context.Context, url, kind, heading string) {
	t.Helper()
	sel := chromedp.CSS(fmt.Sprintf(`[data-state=%q]`, kind))
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(sel)); err != nil {
		t.Fatalf("%s: no %s state page: %v", url, kind, err)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("state-title"))); got != heading {
		t.Errorf("%s: heading %q, want %q", url, got, heading)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.forms.length`)); n != 0 {
		t.Errorf("%s: a %s link still shows %d form(s)", url, kind, n)
	}
}

// waitLocation waits until the tab is at url. It polls from Go because a
// poll inside the page ends with the navigation it waits for.
func waitLocation(t *testing.T, ctx context.Context, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil && loc == url {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not go to %s within %s (at %s, %v)", url, within, loc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
