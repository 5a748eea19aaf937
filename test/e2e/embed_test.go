package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// embedder is an integrator's page on its own origin that frames a signing
// link and records every message the frame posts to it.
func embedder(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/record.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `window.msgs = []; window.addEventListener('message', function (e) { window.msgs.push({origin: e.origin, data: e.data}); });`)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>CRM</title><script src="/record.js"></script>
<h1>Our CRM</h1><iframe id="sign" title="Signing" width="380" height="700" src="%s"></iframe>`, html.EscapeString(r.URL.Query().Get("src")))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// embedMessage is what the signing page posts to its embedder.
type embedMessage struct {
	Origin string `json:"origin"`
	Data   struct {
		Source      string `json:"source"`
		Type        string `json:"type"`
		EnvelopeID  string `json:"envelopeId"`
		RecipientID string `json:"recipientId"`
		Code        string `json:"code"`
	} `json:"data"`
}

func embedMessages(t *testing.T, ctx context.Context) []embedMessage {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.msgs || [])`))
	if err != nil {
		t.Fatalf("read the embedder's messages: %v", err)
	}
	var out []embedMessage
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// childFrame returns the id of the tab's first child frame.
func childFrame(t *testing.T, ctx context.Context) cdp.FrameID {
	t.Helper()
	res, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FrameTree.ChildFrames) == 0 {
		t.Fatal("the embedder has no frame")
	}
	return res.FrameTree.ChildFrames[0].Frame.ID
}

// frameEval evaluates expr in an isolated world of the frame (it shares
// the frame's DOM, so clicks reach the page's own handlers) and returns
// its JSON value.
func frameEval(t *testing.T, ctx context.Context, frame cdp.FrameID, expr string) string {
	t.Helper()
	w, err := chromedp.Call(ctx, page.CreateIsolatedWorld, page.CreateIsolatedWorldParams{FrameID: frame, WorldName: "e2e"})
	if err != nil {
		t.Fatalf("isolated world in frame: %v", err)
	}
	yes := true
	res, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: "JSON.stringify(" + expr + ")",
		ContextID: w.ExecutionContextID, ReturnByValue: &yes})
	if err != nil {
		t.Fatalf("evaluate in frame: %v", err)
	}
	if res.ExceptionDetails != nil {
		t.Fatalf("evaluate in frame: %s %s", res.ExceptionDetails.Text, describe(res.ExceptionDetails.Exception))
	}
	var s string
	_ = json.Unmarshal(res.Result.Value, &s)
	return s
}

// waitFrame polls expr in the tab's frame until it is "true".
func waitFrame(t *testing.T, ctx context.Context, expr string, within time.Duration) cdp.FrameID {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f := childFrame(t, ctx)
		if frameEval(t, ctx, f, expr) == "true" {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("frame: %s did not hold within %s", expr, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitMessages(t *testing.T, ctx context.Context, n int, within time.Duration) []embedMessage {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := embedMessages(t, ctx)
		if len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the embedder received %d messages within %s, want %d: %+v", len(m), within, n, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEmbeddedSigning(t *testing.T) {
	app := startDev(t)
	browser, browserLog := newBrowser(t, 5*time.Minute)
	allowed, other := embedder(t), embedder(t)
	docID := app.uploadFixture("test.pdf")
	vellumOrigin := app.base

	var acct struct {
		EmbedOrigins []string `json:"embedOrigins"`
	}
	app.call(http.MethodPatch, "/api/v1/account", "application/json",
		[]byte(`{"embedOrigins":["`+allowed.URL+`"]}`), http.StatusOK, &acct)
	if len(acct.EmbedOrigins) != 1 || acct.EmbedOrigins[0] != allowed.URL {
		t.Fatalf("embedOrigins %v, want [%s]", acct.EmbedOrigins, allowed.URL)
	}
	send := func(t *testing.T, name string) envelopeJSON {
		return app.in(t).sendEnvelope(map[string]any{
			"subject": "Framed " + name, "documentIds": []string{docID},
			"recipients": []map[string]any{{"email": name + "@example.com", "name": "Ada " + name, "role": "SIGNER"}},
		})
	}

	t.Run("allowed origin frames the page and hears signed", func(t *testing.T) {
		env := send(t, "allowed")
		signURL := env.Recipients[0].SignURL
		res, _ := get(t, signURL, "")
		if csp := res.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors "+allowed.URL) {
			t.Fatalf("CSP %q does not name exactly the allowed origin", csp)
		}
		if xfo := res.Header.Get("X-Frame-Options"); xfo != "" {
			t.Errorf("X-Frame-Options %q contradicts frame-ancestors", xfo)
		}
		if err := chromedp.Do(browser, chromedp.Navigate(allowed.URL+"/?src="+url.QueryEscape(signURL))); err != nil {
			t.Fatal(err)
		}
		f := waitFrame(t, browser, `!!document.getElementById('sign-form')`, 20*time.Second)
		frameEval(t, browser, f, `(document.getElementById('consent').click(), document.getElementById('sign-submit').click(), true)`)
		msgs := waitMessages(t, browser, 1, 30*time.Second)
		m := msgs[0]
		if m.Origin != vellumOrigin || m.Data.Source != "vellum" || m.Data.Type != "signed" ||
			m.Data.EnvelopeID != env.ID || m.Data.RecipientID != env.Recipients[0].ID {
			t.Fatalf("message %+v, want signed for %s/%s from %s", m, env.ID, env.Recipients[0].ID, vellumOrigin)
		}
		app.in(t).waitRecipient(env.ID, 0, "SIGNED", 30*time.Second)
		screenshot(t, browser, "embedded-signed")
	})

	t.Run("allowed origin hears declined and the state page's report", func(t *testing.T) {
		env := send(t, "decliner")
		signURL := env.Recipients[0].SignURL
		if err := chromedp.Do(browser, chromedp.Navigate(allowed.URL+"/?src="+url.QueryEscape(signURL))); err != nil {
			t.Fatal(err)
		}
		f := waitFrame(t, browser, `!!document.getElementById('sign-form')`, 20*time.Second)
		frameEval(t, browser, f, `(document.getElementById('decline-open').click(), document.getElementById('decline-reason').value = 'Wrong salary', document.getElementById('decline-submit').click(), true)`)
		m := waitMessages(t, browser, 1, 30*time.Second)[0]
		if m.Data.Type != "declined" || m.Data.EnvelopeID != env.ID || m.Origin != vellumOrigin {
			t.Fatalf("message %+v, want declined for %s", m, env.ID)
		}
		// Opened again, the link's state page reports itself at once.
		if err := chromedp.Do(browser, chromedp.Navigate(allowed.URL+"/?src="+url.QueryEscape(signURL))); err != nil {
			t.Fatal(err)
		}
		m = waitMessages(t, browser, 1, 20*time.Second)[0]
		if m.Data.Type != "declined" || m.Data.RecipientID != env.Recipients[0].ID {
			t.Fatalf("state page message %+v, want declined", m)
		}
	})

	t.Run("other origin cannot frame the page and hears nothing", func(t *testing.T) {
		browserLog.expect("frame-ancestors")
		env := send(t, "other")
		signURL := env.Recipients[0].SignURL
		if err := chromedp.Do(browser, chromedp.Navigate(other.URL+"/?src="+url.QueryEscape(signURL))); err != nil {
			t.Fatal(err)
		}
		// The browser replaces a refused frame with its error page; the
		// frame's document never becomes the signing page.
		waitFrame(t, browser, `document.readyState === 'complete' && !location.href.startsWith('about:')`, 20*time.Second)
		f := childFrame(t, browser)
		if got := frameEval(t, browser, f, `!!document.getElementById('sign-form') || !!document.getElementById('main')`); got != "false" {
			t.Fatalf("the signing page rendered inside a frame of %s", other.URL)
		}
		if msgs := embedMessages(t, browser); len(msgs) != 0 {
			t.Fatalf("a refused embedder received %+v", msgs)
		}
		// The recipient did not open it: the page never loaded.
		if got := app.in(t).envelope(env.ID).Recipients[0].Status; got == "SIGNED" {
			t.Fatalf("recipient %s", got)
		}
	})
}
