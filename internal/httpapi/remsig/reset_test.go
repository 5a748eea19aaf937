package remsig_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/batch"
)

// send makes a request of the PIN pages with c, posting form when it is
// not nil, and returns the response and its body.
func send(t *testing.T, c *http.Client, method, u string, form url.Values, h map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([0-9a-f]+)"`)

// page is a browser-like client of the PIN pages, with cookies and no
// redirects followed.
func page(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getForm(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, body)
	}
	if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("page headers: %v", res.Header)
	}
	return m[1]
}

func TestResetPassword_OneTimeLinkKeepsTheKey(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	r := call(t, http.MethodPost, "/api/manage/certificate/reset-password", tn.secret, "",
		`{"personUniqueId":"`+p.UniqueID+`","index":0,"redirects":{"success":"https://localhost/success?a=a&b=b#fragment"}}`)
	link, _ := r.body["url"].(string)
	if r.status != http.StatusOK || !strings.HasPrefix(link, "http://vellum.localhost/pin/reset-password?uuid=") || r.body["validUntil"] == nil {
		t.Fatalf("reset-password: %d %s", r.status, r.raw)
	}
	u := env.server.URL + strings.TrimPrefix(link, "http://vellum.localhost")
	c := page(t)
	tok := getForm(t, c, u)
	post := func(form url.Values) *http.Response {
		res, err := c.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post(url.Values{"csrf_token": {"forged"}, "password": {"new-pin-654321"}, "password_confirm": {"new-pin-654321"}, "action": {"set"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("forged token: %d", res.StatusCode)
	}
	if res := post(url.Values{"csrf_token": {tok}, "password": {"new-pin-654321"}, "password_confirm": {"other"}, "action": {"set"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("mismatched passwords: %d", res.StatusCode)
	}
	tok = getForm(t, c, u)
	res := post(url.Values{"csrf_token": {tok}, "password": {"new-pin-654321"}, "password_confirm": {"new-pin-654321"}, "action": {"set"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://localhost/success?a=a&b=b#fragment" {
		t.Fatalf("set: %d %v", res.StatusCode, res.Header)
	}
	// Spent.
	if res, _ := c.Get(u); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the link works twice: %d", res.StatusCode)
	}
	// The key survived: the new PIN authorises a batch, the old does not.
	ctx := context.Background()
	b, err := env.batches.SignOne(ctx, tn.scope, batch.CreateInput{PersonUniqueID: p.UniqueID},
		batch.TaskInput{Kind: batch.KindPKCS1, Name: "x", Data: []byte("data")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.batches.Authorize(ctx, b.Hash, "pin-123456"); err == nil {
		t.Fatal("the old PIN still works")
	}
	if _, err := env.batches.Authorize(ctx, b.Hash, "new-pin-654321"); err != nil {
		t.Fatal(err)
	}
	signAll(t, b.Hash)
	if r := call(t, http.MethodGet, "/api/batch/"+b.Hash+"/state", tn.secret, "", ""); r.body["state"] != "FINISHED" {
		t.Fatalf("signing after the reset: %s", r.raw)
	}
}

func TestPINPage_FormNeedsItsTokenAndCountsWrongPINs(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	r := call(t, http.MethodPost, "/api/sign/pkcs7", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","base64Data":"TG9yZW0=","name":"a.txt",`+
		`"redirects":{"cancel":"https://localhost/cancel"}}`)
	u := env.server.URL + "/pin/" + r.body["hash"].(string)
	c := page(t)
	tok := getForm(t, c, u)
	post := func(form url.Values, h map[string]string) (*http.Response, string) {
		return send(t, c, http.MethodPost, u, form, h)
	}
	if res, _ := post(url.Values{"csrf_token": {tok}, "password": {"pin-123456"}, "action": {"sign"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", res.StatusCode)
	}
	if res, _ := post(url.Values{"password": {"pin-123456"}, "action": {"sign"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("post without the token: %d", res.StatusCode)
	}
	res, body := post(url.Values{"csrf_token": {tok}, "password": {"wrong-pin"}, "action": {"sign"}}, nil)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "4 attempts left") {
		t.Fatalf("wrong PIN: %d %s", res.StatusCode, body)
	}
	tok = csrfField.FindStringSubmatch(body)[1]
	if res, _ := post(url.Values{"csrf_token": {tok}, "action": {"cancel"}}, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "https://localhost/cancel" {
		t.Fatalf("cancel: %d %v", res.StatusCode, res.Header)
	}
	if st := call(t, http.MethodGet, "/api/batch/"+r.body["hash"].(string)+"/state", tn.secret, "", "").body["state"]; st != "CLOSED" {
		t.Fatalf("after a wrong PIN and a cancel: %v", st)
	}
	if res, _ := http.Get(env.server.URL + "/pin/0123456789abcdef0123456789abcdef"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown batch: %d", res.StatusCode)
	}
}

// TestPINPage_SpeaksTheBrowsersLanguage: Accept-Language cs gets the PIN
// page, its wrong-password message and the reset page in Czech.
func TestPINPage_SpeaksTheBrowsersLanguage(t *testing.T) {
	tn := newTenant(t)
	p, _ := tn.person(t, "pin-123456")
	r := call(t, http.MethodPost, "/api/sign/pkcs7", tn.secret, "", `{"personUniqueId":"`+p.UniqueID+`","base64Data":"TG9yZW0=","name":"a.txt"}`)
	u := env.server.URL + "/pin/" + r.body["hash"].(string)
	c := page(t)
	do := func(method, u string, form url.Values) (*http.Response, string) {
		t.Helper()
		return send(t, c, method, u, form, map[string]string{"Accept-Language": "cs-CZ,cs;q=0.9,en;q=0.5"})
	}
	res, body := do(http.MethodGet, u, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Language") != "cs" || !strings.Contains(body, `<html lang="cs">`) {
		t.Fatalf("page language: %d %q %s", res.StatusCode, res.Header.Get("Content-Language"), body)
	}
	for _, phrase := range []string{"Pro podepsání zadejte heslo ke svému certifikátu", "1 položka k podpisu", "Heslo k certifikátu",
		"Vzdálené podepisování Vellum", "1 kB", " UTC</dd>"} {
		if !strings.Contains(body, phrase) {
			t.Errorf("Czech PIN page lacks %q", phrase)
		}
	}
	for _, english := range []string{"Enter your", "Certificate password", "to sign", "Valid until", "bytes"} {
		if strings.Contains(body, english) {
			t.Errorf("Czech PIN page carries English %q", english)
		}
	}
	tok := csrfField.FindStringSubmatch(body)[1]
	res, body = do(http.MethodPost, u, url.Values{"csrf_token": {tok}, "password": {"wrong-pin"}, "action": {"sign"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Nesprávné heslo. Do zablokování certifikátu vám zbývají 4 pokusy.") {
		t.Errorf("Czech wrong-PIN message: %d %s", res.StatusCode, body)
	}
	res, body = do(http.MethodGet, env.server.URL+"/pin/reset-password?uuid=no-such-link", nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `<html lang="cs">`) || !strings.Contains(body, "Odkaz neexistuje") {
		t.Errorf("Czech reset page: %d %s", res.StatusCode, body)
	}
}
