package signerpage

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/i18n"
)

const token = "tok_0123456789abcdefABCDEF-_xyz"

// fakeAPI is a stand-in for the signer JSON API, answering
// GET /api/v1/signer/{token} with a fixed status and body, and recording
// what the page sent.
type fakeAPI struct {
	status int
	body   any
	got    *http.Request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.got = r
	if r.URL.Path != "/api/v1/signer/"+token {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"status":404,"code":"not_found","detail":"unknown signing link"}`)
		return
	}
	if f.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.status)
	_ = json.NewEncoder(w).Encode(f.body)
}

func view(mut func(v map[string]any)) map[string]any {
	v := map[string]any{
		"envelope": map[string]any{
			"id": "env_1", "subject": "Employment contract <Q3>", "message": "Hello Ada,\nplease sign.", "status": "SENT",
			"signText": "I agree to sign electronically.", "signingOrder": "PARALLEL",
		},
		"recipient": map[string]any{
			"id": "rcp_1", "name": "Ada Lovelace", "email": "ada@example.com", "role": "SIGNER", "status": "NOTIFIED",
			"authMethod": "NONE",
		},
		"documents": []any{
			map[string]any{"id": "doc_1", "filename": "contract.pdf", "title": "Contract", "pages": 3, "size": 48213},
			map[string]any{"id": "doc_2", "filename": "annex.pdf", "pages": 1},
		},
		"fields": []any{
			map[string]any{"id": "fld_sig", "documentId": "doc_1", "type": "SIGNATURE", "page": 3, "required": true},
			map[string]any{"id": "fld_txt", "documentId": "doc_1", "type": "TEXT", "page": 2, "required": true},
			map[string]any{"id": "fld_chk", "documentId": "doc_2", "type": "CHECKBOX", "page": 1},
		},
		"session":   map[string]any{"status": "OPENED", "canSign": true, "canDecline": true},
		"redirects": map[string]any{},
	}
	if mut != nil {
		mut(v)
	}
	return v
}

func sub(v map[string]any, key string) map[string]any { return v[key].(map[string]any) }

func serve(t *testing.T, api http.Handler, path string) (*http.Response, string) {
	t.Helper()
	h, err := New(api, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("User-Agent", "test-browser/1.0")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestPage_SetsStrictSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		api  *fakeAPI
		path string
	}{
		{"signing form", &fakeAPI{status: 200, body: view(nil)}, "/s/" + token},
		{"state page", &fakeAPI{status: 410, body: map[string]any{"status": 410, "code": "signing_link_gone"}}, "/s/" + token},
		{"malformed token", &fakeAPI{}, "/s/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := serve(t, tc.api, tc.path)
			want := map[string]string{
				"Content-Security-Policy": contentSecurityPolicy(nil),
				"Referrer-Policy":         "no-referrer",
				"X-Content-Type-Options":  "nosniff",
				"Cache-Control":           "no-store",
				"X-Frame-Options":         "DENY",
				"Content-Type":            "text/html; charset=utf-8",
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := res.Header.Get("Content-Security-Policy")
			for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
				if strings.Contains(csp, bad) {
					t.Errorf("CSP admits %q: %s", bad, csp)
				}
			}
		})
	}
}

func TestPage_HasNoInlineScriptOrStyle(t *testing.T) {
	_, body := serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
		sub(v, "recipient")["authMethod"] = "EMAIL_OTP"
	})}, "/s/"+token)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`), // inline script body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`), // event handler attributes
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
	} {
		if m := re.FindString(body); m != "" {
			t.Errorf("page contains %q (matched %s)", m, re)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="/s/assets/`) {
			t.Errorf("script tag without an asset src: %s", tag)
		}
	}
	for _, want := range []string{`<script src="/s/assets/signer.`, `<link rel="stylesheet" href="/s/assets/signer.`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestPage_RendersSigningForm(t *testing.T) {
	api := &fakeAPI{status: 200, body: view(nil)}
	res, body := serve(t, api, "/s/"+token)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		`<h1 id="subject">Employment contract &lt;Q3&gt;</h1>`, // escaped
		"Hello Ada,\nplease sign.",
		`Ada Lovelace`,
		`href="/api/v1/signer/` + token + `/documents/doc_1"`,
		`href="/api/v1/signer/` + token + `/documents/doc_2"`,
		`<span class="doc-name">Contract</span>`,
		`<span class="doc-name">annex.pdf</span>`,
		`PDF · 3 pages · 48 KB`,
		`I agree to sign electronically.`,
		`<input type="checkbox" id="consent" required`,
		`<label for="consent">`,
		`<canvas id="pad"`,
		`<label for="typed-name">`,
		`id="field-fld_txt" data-field-id="fld_txt" data-kind="text"`,
		`Text 1 (Contract, page 2)`,
		`id="field-fld_chk" data-field-id="fld_chk" data-kind="checkbox"`,
		`id="decline-form"`,
		`data-api="/api/v1/signer/` + token + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, absent := range []string{`id="otp"`, `id="access-code"`, `fld_sig"`} {
		if strings.Contains(body, absent) {
			t.Errorf("page has %q", absent)
		}
	}
	// The page's own API call speaks for the signer, so the VIEWED event
	// records their address and browser.
	if api.got == nil || api.got.Header.Get("User-Agent") != "test-browser/1.0" ||
		api.got.Header.Get("X-Forwarded-For") != "203.0.113.7" || api.got.Method != http.MethodGet {
		t.Errorf("sub-request did not carry the signer's headers: %+v", api.got)
	}
}

func TestPage_AuthenticationSteps(t *testing.T) {
	for _, tc := range []struct {
		method      string
		want, avoid string
	}{
		{"EMAIL_OTP", `id="otp-send"`, `id="access-code"`},
		{"ACCESS_CODE", `id="access-code"`, `id="otp-send"`},
	} {
		t.Run(tc.method, func(t *testing.T) {
			_, body := serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
				sub(v, "recipient")["authMethod"] = tc.method
			})}, "/s/"+token)
			if !strings.Contains(body, tc.want) || strings.Contains(body, tc.avoid) {
				t.Errorf("want %s and not %s", tc.want, tc.avoid)
			}
			if tc.method == "EMAIL_OTP" && !strings.Contains(body, "a••@example.com") {
				t.Error("OTP step does not name the masked address")
			}
		})
	}
}

func TestPage_RolesWithoutSignature(t *testing.T) {
	_, body := serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
		sub(v, "recipient")["role"] = "APPROVER"
	})}, "/s/"+token)
	if strings.Contains(body, `id="pad"`) || !strings.Contains(body, `>Approve</button>`) {
		t.Error("an approver's page should have Approve and no signature pad")
	}
	_, body = serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
		sub(v, "recipient")["role"] = "VIEWER"
		sub(v, "session")["canSign"] = false
	})}, "/s/"+token)
	if strings.Contains(body, `id="sign-form"`) || !strings.Contains(body, `/documents/doc_1"`) {
		t.Error("a viewer's page should list documents without a form")
	}
}

func TestPage_ExplainsStatesInsteadOfAForm(t *testing.T) {
	problem := func(status int, code, detail string) *fakeAPI {
		return &fakeAPI{status: status, body: map[string]any{"status": status, "code": code, "detail": detail}}
	}
	ok := func(mut func(v map[string]any)) *fakeAPI { return &fakeAPI{status: 200, body: view(mut)} }
	for _, tc := range []struct {
		name   string
		api    *fakeAPI
		path   string
		status int
		state  stateKind
	}{
		{"signed (view)", ok(func(v map[string]any) {
			sub(v, "recipient")["status"] = "SIGNED"
			sub(v, "recipient")["signedAt"] = "2025-11-23T10:00:00Z"
		}), "", 200, stateSigned},
		{"declined (view)", ok(func(v map[string]any) { sub(v, "recipient")["status"] = "DECLINED" }), "", 200, stateDeclined},
		{"expired (view)", ok(func(v map[string]any) { sub(v, "recipient")["status"] = "EXPIRED" }), "", 200, stateExpired},
		{"not yet (view)", ok(func(v map[string]any) { sub(v, "recipient")["status"] = "PENDING" }), "", 200, stateNotYourTurn},
		{"completed (view)", ok(func(v map[string]any) { sub(v, "envelope")["status"] = "COMPLETED" }), "", 200, stateCompleted},
		{"voided (view)", ok(func(v map[string]any) { sub(v, "envelope")["status"] = "VOIDED" }), "", 200, stateVoided},
		{"unknown token", problem(404, "signing_link_not_found", "unknown signing link"), "", 404, stateUnknown},
		{"malformed token", &fakeAPI{}, "/s/not%20a%20token", 404, stateUnknown},
		{"signed", problem(409, "recipient_already_signed", "recipient has already finished: the recipient signed"), "", 200, stateSigned},
		{"declined", problem(409, "recipient_already_declined", "recipient has already finished: the recipient declined"), "", 200, stateDeclined},
		{"envelope voided", problem(410, "envelope_voided", "signing link is no longer valid: the envelope is VOIDED"), "", 410, stateVoided},
		{"envelope completed", problem(410, "envelope_completed", "signing link is no longer valid: the envelope is COMPLETED"), "", 410, stateCompleted},
		{"envelope declined by another", problem(410, "envelope_declined", "signing link is no longer valid: the envelope is DECLINED"), "", 410, stateEnded},
		{"link expired", problem(410, "signing_link_expired", "signing link is no longer valid: the link expired at 2025-11-23T10:00:00Z"), "", 410, stateExpired},
		{"not your turn", problem(409, "not_your_turn", "it is not this recipient's turn yet"), "", 409, stateNotYourTurn},
		{"CC", problem(409, "recipient_cannot_sign", "this recipient cannot sign: a CC recipient receives the result once the envelope is completed"), "", 200, stateCopyOnly},
		{"rate limited", problem(429, "rate_limited", "rate limit exceeded"), "", 429, stateBusy},
		{"API failure", problem(500, "internal_error", ""), "", 503, stateUnavailable},
		{"API not JSON", &fakeAPI{status: 200, body: "nope"}, "", 503, stateUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/s/" + token
			}
			res, body := serve(t, tc.api, path)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if !strings.Contains(body, `data-state="`+string(tc.state)+`"`) {
				t.Errorf("page is not the %s state:\n%s", tc.state, body)
			}
			heading := i18n.For(i18n.English).T("state." + string(tc.state) + ".title")
			if !strings.Contains(body, heading) {
				t.Errorf("page lacks heading %q", heading)
			}
			if strings.Contains(body, "<form") || strings.Contains(body, "<script") {
				t.Error("a state page must not carry the signing form or script")
			}
		})
	}
}

func TestPage_RedirectsOnlyToHTTPURLs(t *testing.T) {
	_, body := serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
		v["redirects"] = map[string]any{"success": "https://crm.example/done?id=1&x=2", "cancel": "javascript:alert(1)"}
	})}, "/s/"+token)
	if !strings.Contains(body, `data-success-url="https://crm.example/done?id=1&amp;x=2"`) {
		t.Error("success redirect missing")
	}
	if strings.Contains(body, "data-cancel-url") || strings.Contains(body, "javascript:") {
		t.Error("a javascript: redirect reached the page")
	}
}

func TestAssets_AreFingerprintedAndCached(t *testing.T) {
	h, err := New(&fakeAPI{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signer.js", "signer.css"} {
		u, err := h.assets.URL(name)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^/s/assets/signer\.[0-9a-f]{16}\.(js|css)$`).MatchString(u) {
			t.Fatalf("asset URL %q is not fingerprinted", u)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("ETag") == "" {
			t.Fatalf("%s: %d %v", u, rec.Code, rec.Header())
		}
		ct := rec.Header().Get("Content-Type")
		if (name == "signer.js" && !strings.Contains(ct, "javascript")) || (name == "signer.css" && !strings.HasPrefix(ct, "text/css")) {
			t.Errorf("%s served as %q", name, ct)
		}
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
		rec2 := httptest.NewRecorder()
		h.ServeHTTP(rec2, req)
		if rec2.Code != http.StatusNotModified {
			t.Errorf("revalidation: %d, want 304", rec2.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/s/assets/signer.0000000000000000.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("stale asset name: %d, want 404", rec.Code)
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"ada@example.com":   "a••@example.com",
		"a@example.com":     "a•@example.com",
		"verylongname@x.io": "v••••••@x.io",
		"nonsense":          "",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

// The typed preview is drawn with the files the stamp embeds, served from
// our own origin, and picks the face the stamp will pick.
func TestPage_TypedPreviewUsesTheStampsFaces(t *testing.T) {
	if !strings.Contains(contentSecurityPolicy(nil), "font-src 'self'") {
		t.Errorf("CSP does not admit our own fonts: %s", contentSecurityPolicy(nil))
	}
	h, err := New(&fakeAPI{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cssURL, _ := h.assets.URL("signer.css")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cssURL, nil))
	for name, want := range fonts {
		u, err := h.assets.URL(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rec.Body.String(), `url("`+u+`")`) {
			t.Errorf("stylesheet does not load %s from %s", name, u)
		}
		frec := httptest.NewRecorder()
		h.ServeHTTP(frec, httptest.NewRequest(http.MethodGet, u, nil))
		if frec.Code != 200 || frec.Header().Get("Content-Type") != "font/ttf" || !bytes.Equal(frec.Body.Bytes(), want) {
			t.Errorf("%s: %d %s, %d bytes", u, frec.Code, frec.Header().Get("Content-Type"), frec.Body.Len())
		}
	}
	for name, serif := range map[string]bool{"Ada Lovelace": false, "Antonín Dvořák": true, "Әлихан": true} {
		_, body := serve(t, &fakeAPI{status: 200, body: view(func(v map[string]any) {
			v["recipient"].(map[string]any)["name"] = name
		})}, "/s/"+token)
		got := strings.Contains(body, `class="typed-preview serif"`)
		if got != serif || !strings.Contains(body, `data-handwriting="20-7e,`) {
			t.Errorf("%s: serif preview %v, want %v", name, got, serif)
		}
	}
}
