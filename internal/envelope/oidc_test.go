package envelope_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/testenv"
)

// oidcUsers are the test provider's users; Username is the national
// identification number it vouches for (preferred_username).
var oidcUsers = []testenv.OIDCUser{
	{ID: "u-ada", Username: "19151210-1234", Password: "correct horse", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"},
}

// browser is a signer's browser: cookies, no automatic redirects (each
// hop is checked), every answer of ours held to the contract.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: ownOnly{contract: contractTransport{t: t, next: http.DefaultTransport}}}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, client: c}
}

// ownOnly holds our answers to the contract, not the identity provider's.
type ownOnly struct{ contract contractTransport }

func (o ownOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.String(), h.base+"/") {
		return o.contract.RoundTrip(req)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (b *browser) get(u string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (b *browser) sign(token string) response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/api/v1/signer/"+token+"/sign",
		strings.NewReader(`{"consent": true, "signature": {"type": "typed", "text": "Ada Lovelace"}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// login runs the OIDC login from the signing link to the provider and
// back, and returns where our callback sent the browser.
func (b *browser) login(token, password string) string {
	b.t.Helper()
	r := b.get(h.base + "/api/v1/signer/" + token + "/oidc")
	if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), h.op.Issuer) {
		b.t.Fatalf("start login: %d Location %q, want 302 to the provider: %s", r.status, r.header.Get("Location"), r.body)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") ||
		!strings.Contains(sc, "Path=/api/v1/signer/") {
		b.t.Errorf("binding cookie %q: want HttpOnly, SameSite=Lax, Path=/api/v1/signer/", sc)
	}
	back, err := h.op.Login(context.Background(), b.client, r.header.Get("Location"), oidcUsers[0].Username, password)
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), h.base+"/api/v1/signer/oidc/callback?") {
		b.t.Fatalf("provider sent the browser to %s, want our callback", back)
	}
	r = b.get(back.String())
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("callback: %d %s, want 303 to the signing page", r.status, r.body)
	}
	return r.header.Get("Location")
}

func (c *client) oidcEnvelope(auth map[string]any) (string, string) {
	c.t.Helper()
	doc := c.upload("contract.pdf", samplePDF("Contract", 1))
	r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
		"subject": "Loan agreement", "documentIds": []string{doc},
		"recipients": []map[string]any{{"email": "ada@example.com", "name": "Ada Lovelace", "role": "SIGNER", "auth": auth}},
	})
	if r.status != http.StatusCreated {
		c.t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(c.t)["id"].(string)
	if r := c.do(http.MethodPost, "/api/v1/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		c.t.Fatalf("send: %d %s", r.status, r.body)
	}
	return id, c.tokenOf(id, "ada@example.com")
}

func (c *client) events(id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/events", nil).json(c.t)["data"].([]any) {
		em := e.(map[string]any)
		d, _ := em["details"].(map[string]any)
		out[em["type"].(string)] = d
	}
	return out
}

func TestOIDC_SignerLogsInWithTheProviderAndTheIdentityReachesAuditAndCertificate(t *testing.T) {
	c := newClient(t)
	id, token := c.oidcEnvelope(map[string]any{"method": "OIDC", "provider": "testid",
		"nationalIdentificationNumber": "19151210-1234"})
	env := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(t)
	auth := env["recipients"].([]any)[0].(map[string]any)["auth"].(map[string]any)
	if auth["method"] != "OIDC" || auth["provider"] != "testid" || auth["nationalIdentificationNumber"] != "19151210-1234" {
		t.Errorf("recipient auth %v", auth)
	}

	b := newBrowser(t)
	// Before the login, signing is refused.
	if r := b.sign(token); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "log in with testid") {
		t.Fatalf("sign before login: %d %s, want 403 naming the provider", r.status, r.body)
	}
	if to := b.login(token, oidcUsers[0].Password); to != h.base+"/s/"+token {
		t.Fatalf("callback sent the browser to %s, want the signing page", to)
	}
	// The signer view shows whom the provider vouched for.
	var v struct {
		Recipient struct {
			AuthProvider string `json:"authProvider"`
			Identity     struct {
				Name, Subject                string
				NationalIdentificationNumber string
			} `json:"identity"`
		} `json:"recipient"`
	}
	if err := json.Unmarshal(b.get(h.base+"/api/v1/signer/"+token).body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Recipient.AuthProvider != "testid" || v.Recipient.Identity.Name != "Ada Lovelace" || v.Recipient.Identity.Subject != "u-ada" {
		t.Errorf("signer view after login: %+v", v.Recipient)
	}

	// Another browser, holding only the link, cannot use the login.
	if r := newBrowser(t).sign(token); r.status != http.StatusForbidden || !strings.Contains(string(r.body), "browser") {
		t.Errorf("sign from another browser: %d %s, want 403", r.status, r.body)
	}
	if r := b.sign(token); r.status != http.StatusOK {
		t.Fatalf("sign after login: %d %s", r.status, r.body)
	}
	c.waitStatus(id, "COMPLETED")

	ev := c.events(id)
	a := ev["recipient.authenticated"]
	if a == nil || a["provider"] != "testid" || a["issuer"] != h.op.Issuer || a["subject"] != "u-ada" ||
		a["nationalIdentificationNumber"] != "19151210-1234" || a["name"] != "Ada Lovelace" {
		t.Errorf("recipient.authenticated details %v", a)
	}
	if s := ev["recipient.signed"]; s == nil || s["auth"] != "OIDC" || s["identitySubject"] != "u-ada" {
		t.Errorf("recipient.signed details %v", s)
	}

	// The signer's certificate carries the verified national identifier.
	pdf := c.do(http.MethodGet, "/api/v1/envelopes/"+id+"/signed-document", nil)
	if pdf.status != http.StatusOK {
		t.Fatalf("signed document: %d %s", pdf.status, pdf.body)
	}
	sigs, err := testenv.ScanSignatures(pdf.body)
	if err != nil || len(sigs) == 0 || sigs[0].DocTimestamp {
		t.Fatalf("signatures %v: %v", sigs, err)
	}
	p7 := filepath.Join(t.TempDir(), "sig.p7s")
	if err := os.WriteFile(p7, sigs[0].Contents, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.OpenSSL("pkcs7", "-inform", "DER", "-in", p7, "-print_certs", "-noout")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "subject=CN = Ada Lovelace, serialNumber = 19151210-1234") &&
		!strings.Contains(out, "serialNumber = 19151210-1234, CN = Ada Lovelace") {
		t.Errorf("signer certificate subject lacks the national identification number:\n%s", out)
	}
}

func TestOIDC_AnotherNationalIDDoesNotCount(t *testing.T) {
	c := newClient(t)
	id, token := c.oidcEnvelope(map[string]any{"method": "OIDC", "provider": "testid",
		"nationalIdentificationNumber": "19840101-0000"})
	b := newBrowser(t)
	if to := b.login(token, oidcUsers[0].Password); to != h.base+"/s/"+token+"?login=failed" {
		t.Fatalf("callback with another person's login sent the browser to %s, want the page with login=failed", to)
	}
	if r := b.sign(token); r.status != http.StatusForbidden {
		t.Fatalf("sign after a refused login: %d %s, want 403", r.status, r.body)
	}
	f := c.events(id)["recipient.authentication_failed"]
	if f == nil || !strings.Contains(f["reason"].(string), "another national identification number") {
		t.Errorf("recipient.authentication_failed details %v", f)
	}
	if _, ok := c.events(id)["recipient.authenticated"]; ok {
		t.Error("a refused login was recorded as recipient.authenticated")
	}
}

func TestOIDC_CallbackRefusesForgedOrReplayedState(t *testing.T) {
	c := newClient(t)
	_, token := c.oidcEnvelope(map[string]any{"method": "OIDC", "provider": "testid"})
	b := newBrowser(t)
	r := b.get(h.base + "/api/v1/signer/" + token + "/oidc")
	back, err := h.op.Login(context.Background(), b.client, r.header.Get("Location"), oidcUsers[0].Username, oidcUsers[0].Password)
	if err != nil {
		t.Fatal(err)
	}
	// The callback in a browser without the binding cookie does not count.
	if r := newBrowser(t).get(back.String()); r.status != http.StatusForbidden {
		t.Errorf("callback without the binding cookie: %d %s, want 403", r.status, r.body)
	}
	forged := *back
	q := forged.Query()
	q.Set("state", "forged-state")
	forged.RawQuery = q.Encode()
	if r := b.get(forged.String()); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "identity_login_unknown") {
		t.Errorf("forged state: %d %s, want 400 identity_login_unknown", r.status, r.body)
	}
	if r := b.get(back.String()); r.status != http.StatusSeeOther || strings.Contains(r.header.Get("Location"), "failed") {
		t.Fatalf("callback: %d %s", r.status, r.header.Get("Location"))
	}
	if r := b.get(back.String()); r.status != http.StatusBadRequest {
		t.Errorf("replayed callback: %d %s, want 400", r.status, r.body)
	}
	if r := b.sign(token); r.status != http.StatusOK {
		t.Errorf("sign after login: %d %s", r.status, r.body)
	}
}

func TestOIDC_RecipientValidation(t *testing.T) {
	c := newClient(t)
	doc := c.upload("contract.pdf", samplePDF("Contract", 1))
	for _, tc := range []struct {
		name      string
		auth      map[string]any
		param     string
		wantInMsg string
	}{
		{"unknown provider", map[string]any{"method": "OIDC", "provider": "nbid"}, "recipients[0].auth.provider", "configured are testid"},
		{"no provider", map[string]any{"method": "OIDC"}, "recipients[0].auth.provider", "configured are testid"},
		{"provider without OIDC", map[string]any{"method": "EMAIL_OTP", "provider": "testid"}, "recipients[0].auth", "only with method OIDC"},
		{"national id not printable", map[string]any{"method": "OIDC", "provider": "testid", "nationalIdentificationNumber": "19151210_1234"},
			"recipients[0].auth.nationalIdentificationNumber", "letters, digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(http.MethodPost, "/api/v1/envelopes", map[string]any{
				"subject": "S", "documentIds": []string{doc},
				"recipients": []map[string]any{{"email": "ada@example.com", "name": "Ada", "role": "SIGNER", "auth": tc.auth}},
			})
			if r.status != http.StatusBadRequest {
				t.Fatalf("%d %s, want 400", r.status, r.body)
			}
			found := false
			for _, p := range r.json(t)["invalidParams"].([]any) {
				pm := p.(map[string]any)
				if pm["name"] == tc.param && strings.Contains(pm["reason"].(string), tc.wantInMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("invalidParams lack %s ~ %q: %s", tc.param, tc.wantInMsg, r.body)
			}
		})
	}
	// A login cannot start for a recipient without OIDC.
	_, token := c.oidcEnvelope(map[string]any{"method": "NONE"})
	if r := newBrowser(t).get(h.base + "/api/v1/signer/" + token + "/oidc"); r.status != http.StatusBadRequest {
		t.Errorf("start login for a NONE recipient: %d %s, want 400", r.status, r.body)
	}
}
