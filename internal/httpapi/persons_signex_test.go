package httpapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/signex"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/websession"
)

type signexServer struct {
	*personServer
	clock *testenv.Clock
}

func newSignexServer(t *testing.T) *signexServer {
	t.Helper()
	clock := &testenv.Clock{}
	s := newPersonServer(t, func(svc *person.Service) func(*echo.Echo, *echo.Group) {
		return signex.Routes(signex.Deps{Persons: svc,
			Sessions: websession.New(env.pg.DB, websession.Config{Lifetime: 12 * time.Hour, IdleTimeout: 30 * time.Minute, Now: clock.Now}),
			Limiter:  httpapi.NewRateLimiter(env.redis.Client)})
	})
	return &signexServer{personServer: s, clock: clock}
}

// ipSeq gives every test its own client address (X-Forwarded-For from
// loopback is believed), so per-IP budgets do not leak between tests.
var ipSeq struct {
	sync.Mutex
	n int
}

func nextIP() string {
	ipSeq.Lock()
	defer ipSeq.Unlock()
	ipSeq.n++
	return fmt.Sprintf("198.51.%d.%d", 100+ipSeq.n/250, 1+ipSeq.n%250)
}

// browserish is one client of the portal: its address and its cookies.
type browserish struct {
	s       *signexServer
	ip      string
	cookies map[string]string
}

func (s *signexServer) client(ip string) *browserish {
	return &browserish{s: s, ip: ip, cookies: map[string]string{}}
}

func (b *browserish) do(t testing.TB, method, path string, body any, header map[string]string) result {
	t.Helper()
	h := map[string]string{"X-Forwarded-For": b.ip}
	var names []string
	for k := range b.cookies {
		names = append(names, k)
	}
	sort.Strings(names)
	var ck []string
	for _, k := range names {
		ck = append(ck, k+"="+b.cookies[k])
	}
	if len(ck) > 0 {
		h["Cookie"] = strings.Join(ck, "; ")
	}
	for k, v := range header {
		h[k] = v
	}
	c := call{method: method, path: path, header: h}
	if body != nil {
		c.contentType = "application/json"
		c.body = mustJSON(body)
	}
	r := b.s.do(t, c)
	for _, sc := range (&http.Response{Header: r.header}).Cookies() {
		if sc.MaxAge < 0 {
			delete(b.cookies, sc.Name)
		} else {
			b.cookies[sc.Name] = sc.Value
		}
	}
	return r
}

func (b *browserish) xsrf() map[string]string {
	return map[string]string{"X-XSRF-TOKEN": b.cookies["XSRF-TOKEN"]}
}

func (b *browserish) login(t testing.TB, email, password string) result {
	t.Helper()
	return b.do(t, "POST", "/api/auth/login", map[string]string{"email": email, "password": password}, nil)
}

// portalPerson creates a person with a portal password and an issued
// certificate through the native API.
func (s *signexServer) portalPerson(t *testing.T, key, password string) (personJSON, certificateJSON) {
	t.Helper()
	body := newPersonBody()
	body["password"] = password
	body["nationalId"] = "123456789012"
	p := s.createPerson(t, key, body)
	r := s.do(t, call{method: "POST", path: "/api/v1/persons/" + p.ID + "/certificates", key: key, contentType: "application/json",
		body: jsonBody(`{"type":"PERSONAL","password":"pin-246810","validityDays":365}`)})
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	var c certificateJSON
	r.decode(t, &c)
	return p, c
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSignex_LoginListDetailLogout(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, issued := s.portalPerson(t, ten.test, "portal-password-1")
	gost, err := os.ReadFile("../person/testdata/kz-gost2012-256.pem")
	if err != nil {
		t.Fatal(err)
	}
	r := s.do(t, call{method: "POST", path: "/api/v1/persons/" + p.ID + "/certificates", key: ten.test, contentType: "application/json",
		body: mustJSON(map[string]string{"certificate": string(gost)})})
	var linked certificateJSON
	r.decode(t, &linked)

	b := s.client(nextIP())
	login := b.login(t, strings.ToUpper(p.Email), "portal-password-1")
	if login.status != http.StatusOK {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: login.header}).Cookies() {
		cookies[c.Name] = c
	}
	auth, xsrf := cookies["__Host-Signex.Auth"], cookies["XSRF-TOKEN"]
	if auth == nil || !auth.HttpOnly || !auth.Secure || auth.Path != "/" || auth.Domain != "" || auth.SameSite != http.SameSiteLaxMode || len(auth.Value) < 40 {
		t.Fatalf("session cookie %+v", auth)
	}
	if xsrf == nil || xsrf.HttpOnly || !xsrf.Secure || xsrf.Path != "/" || len(xsrf.Value) < 40 || xsrf.Value == auth.Value {
		t.Fatalf("anti-forgery cookie %+v", xsrf)
	}

	mine := b.do(t, "GET", "/api/cert/mine", nil, nil)
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	mine.decode(t, &list)
	if mine.status != http.StatusOK || list.Total != 2 || len(list.Items) != 2 {
		t.Fatalf("mine: %d %s", mine.status, mine.body)
	}
	want := []string{"algorithm", "fullName", "id", "iin", "isPrimary", "linkedAt", "status", "template", "thumbprint", "validity"}
	for _, it := range list.Items {
		if got := keysOf(it); !slices.Equal(got, want) {
			t.Errorf("CertSummary fields %v, want exactly %v", got, want)
		}
		v := it["validity"].(map[string]any)
		if got := keysOf(v); !slices.Equal(got, []string{"notAfterUtc", "notBeforeUtc"}) {
			t.Errorf("validity fields %v", got)
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(v["notBeforeUtc"].(string)) {
			t.Errorf("notBeforeUtc %q is not like Signex's 2024-03-14T10:32:11Z", v["notBeforeUtc"])
		}
	}
	byID := map[string]map[string]any{}
	for _, it := range list.Items {
		byID[it["id"].(string)] = it
	}
	if it := byID[issued.ID]; it["iin"] != "123456******" || it["algorithm"] != "ECDSA-P256" || it["isPrimary"] != true ||
		it["status"] != "valid" || it["template"] != "Individual" || it["fullName"] != "Ada Lovelace" || it["thumbprint"] != issued.Thumbprint {
		t.Errorf("issued certificate summary %v", it)
	}
	if it := byID[linked.ID]; it["iin"] != "123456******" || it["algorithm"] != "GOST3410-2022" ||
		it["fullName"] != "AKHMETOVA AIGUL ERKINOVNA" || it["template"] != "Individual" {
		t.Errorf("GOST certificate summary %v", it)
	}

	detail := b.do(t, "GET", "/api/cert/"+linked.ID, nil, nil)
	var d struct {
		Algorithm         string `json:"algorithm"`
		PEM               string `json:"pem"`
		SubjectAttributes []struct {
			Name, Value string
		} `json:"subjectAttributes"`
		Extensions []struct {
			OID      string          `json:"oid"`
			Name     string          `json:"name"`
			Critical bool            `json:"critical"`
			Value    json.RawMessage `json:"value"`
		} `json:"extensions"`
		SignatureAlgorithm string `json:"signatureAlgorithm"`
	}
	detail.decode(t, &d)
	if detail.status != http.StatusOK || !strings.HasPrefix(d.PEM, "-----BEGIN CERTIFICATE-----") || !strings.Contains(d.SignatureAlgorithm, "34.10-2012") {
		t.Fatalf("detail: %d %s", detail.status, detail.body)
	}
	serial := false
	for _, a := range d.SubjectAttributes {
		serial = serial || (a.Name == "SERIALNUMBER" && a.Value == "IIN123456789012")
	}
	if !serial {
		t.Errorf("subject attributes lack SERIALNUMBER=IIN123456789012: %+v", d.SubjectAttributes)
	}
	exts := map[string]string{}
	for _, e := range d.Extensions {
		exts[e.Name] = string(e.Value)
		if e.Name == "keyUsage" && !e.Critical {
			t.Error("keyUsage is critical in the certificate")
		}
	}
	for name, wantIn := range map[string]string{
		"keyUsage":               `["digitalSignature","contentCommitment"]`,
		"extKeyUsage":            `"name":"kzIndividual"`,
		"certificatePolicies":    `"oid":"1.2.398.3.3.2.1"`,
		"subjectAltName":         `{"type":"email","value":"aigul@example.kz"}`,
		"authorityInfoAccess":    `{"method":"ocsp","location":{"type":"uri","value":"http://test.pki.gov.kz/ocsp/"}}`,
		"cRLDistributionPoints":  `"value":"http://test.pki.gov.kz/crl/nca_gost_test_2022.crl"`,
		"subjectKeyIdentifier":   `"2d8ed3c145bdc7f8c73d9396675b6a67cb041dba"`,
		"authorityKeyIdentifier": `"keyIdentifier":`,
	} {
		if !strings.Contains(exts[name], wantIn) {
			t.Errorf("extension %s = %s, want it to contain %s", name, exts[name], wantIn)
		}
	}

	out := b.do(t, "POST", "/api/auth/logout", nil, b.xsrf())
	if out.status != http.StatusNoContent || len(b.cookies) != 0 {
		t.Fatalf("logout: %d, cookies left %v", out.status, b.cookies)
	}
	// The old cookie no longer opens anything: the session ended on the server.
	replay := s.client(b.ip)
	replay.cookies["__Host-Signex.Auth"] = auth.Value
	if r := replay.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusUnauthorized || r.problem(t).Code != "not_logged_in" {
		t.Errorf("replayed cookie after logout: %d %s", r.status, r.body)
	}
}

func TestSignex_WrongCredentialsGetOneAnswer(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, _ := s.portalPerson(t, ten.test, "portal-password-2")
	b := s.client(nextIP())
	unknown := b.login(t, "nobody-"+p.Email, "portal-password-2")
	wrong := b.login(t, p.Email, "portal-password-3")
	for _, r := range []result{unknown, wrong} {
		if r.status != http.StatusUnauthorized || r.problem(t).Code != "invalid_credentials" || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("failed login: %d %s cookies %q", r.status, r.body, r.header.Get("Set-Cookie"))
		}
	}
	strip := func(r result) string {
		var p map[string]any
		json.Unmarshal(r.body, &p)
		delete(p, "traceId")
		b, _ := json.Marshal(p)
		return string(b)
	}
	if strip(unknown) != strip(wrong) {
		t.Errorf("unknown address and wrong password answer differently:\n%s\n%s", unknown.body, wrong.body)
	}
	if r := b.do(t, "POST", "/api/auth/login", map[string]any{"email": p.Email, "password": "x", "remember": true}, nil); r.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d", r.status)
	}
	if r := b.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("mine without a session: %d", r.status)
	}
}

func TestSignex_StateChangesNeedTheSessionsAntiForgeryToken(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, first := s.portalPerson(t, ten.test, "portal-password-4")
	linkPEM, _, _ := selfSignedPEM(t)
	r := s.do(t, call{method: "POST", path: "/api/v1/persons/" + p.ID + "/certificates", key: ten.test, contentType: "application/json",
		body: mustJSON(map[string]string{"certificate": string(linkPEM)})})
	var second certificateJSON
	r.decode(t, &second)

	b, other := s.client(nextIP()), s.client(nextIP())
	b.login(t, p.Email, "portal-password-4")
	other.login(t, p.Email, "portal-password-4") // a second session of the same person
	for _, tc := range []struct {
		name, code string
		header     map[string]string
	}{
		{"no header", "xsrf_token_missing", nil},
		{"wrong token", "xsrf_token_mismatch", map[string]string{"X-XSRF-TOKEN": "forged"}},
		{"another session's token", "xsrf_token_mismatch", other.xsrf()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/cert/" + second.ID + "/primary", "/api/cert/link/challenge", "/api/auth/logout"} {
				r := b.do(t, "POST", path, nil, tc.header)
				if r.status != http.StatusForbidden || r.problem(t).Code != tc.code {
					t.Errorf("POST %s: %d %s, want 403 %s", path, r.status, r.body, tc.code)
				}
			}
		})
	}
	mine := b.do(t, "GET", "/api/cert/mine", nil, nil)
	if !strings.Contains(string(mine.body), `"id":"`+first.ID+`","iin":"123456******","fullName":"Ada Lovelace","thumbprint":"`+first.Thumbprint+`","algorithm":"ECDSA-P256","isPrimary":true`) {
		t.Fatalf("a refused request changed the primary: %s", mine.body)
	}
	if r := b.do(t, "POST", "/api/cert/"+second.ID+"/primary", nil, b.xsrf()); r.status != http.StatusOK {
		t.Fatalf("with the token: %d %s", r.status, r.body)
	}
}

func TestSignex_SessionsEndWhenIdleAndAtTheirLifetime(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, _ := s.portalPerson(t, ten.test, "portal-password-5")
	b := s.client(nextIP())
	b.login(t, p.Email, "portal-password-5")
	s.clock.Advance(29 * time.Minute)
	if r := b.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusOK {
		t.Fatalf("after 29 idle minutes: %d", r.status)
	}
	s.clock.Advance(31 * time.Minute)
	if r := b.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("after 31 idle minutes: %d", r.status)
	}
	if _, ok := b.cookies["__Host-Signex.Auth"]; ok {
		t.Error("the ended session's cookie was not cleared")
	}

	b.login(t, p.Email, "portal-password-5")
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
		s.clock.Advance(20 * time.Minute)
		if r := b.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusOK {
			t.Fatalf("active session after %s: %d", elapsed+20*time.Minute, r.status)
		}
	}
	s.clock.Advance(20 * time.Minute)
	if r := b.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("active session past its 12 h lifetime: %d", r.status)
	}
}

func TestSignex_AnotherPersonsCertificateIsNotFound(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	a, _ := s.portalPerson(t, ten.test, "portal-password-6")
	_, bCert := s.portalPerson(t, ten.test, "portal-password-7")
	c := s.client(nextIP())
	c.login(t, a.Email, "portal-password-6")
	for _, r := range []result{
		c.do(t, "GET", "/api/cert/"+bCert.ID, nil, nil),
		c.do(t, "POST", "/api/cert/"+bCert.ID+"/primary", nil, c.xsrf()),
		c.do(t, "GET", "/api/cert/crt_00000000000000000000000000000000", nil, nil),
	} {
		if r.status != http.StatusNotFound || r.problem(t).Code != "certificate_not_found" {
			t.Errorf("another person's certificate: %d %s", r.status, r.body)
		}
	}
}

func TestSignex_LinkWithProofOfPossession(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, _ := s.portalPerson(t, ten.test, "portal-password-8")
	b := s.client(nextIP())
	b.login(t, p.Email, "portal-password-8")
	certPEM, key, _ := selfSignedPEM(t)
	var ch struct{ Challenge string }
	r := b.do(t, "POST", "/api/cert/link/challenge", nil, b.xsrf())
	r.decode(t, &ch)
	if r.status != http.StatusOK || !strings.HasPrefix(ch.Challenge, "vellum-link-v1:") {
		t.Fatalf("challenge: %d %s", r.status, r.body)
	}
	digest := sha256.Sum256([]byte(ch.Challenge))
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	r = b.do(t, "POST", "/api/cert/link", map[string]string{"certificate": string(certPEM), "challenge": ch.Challenge,
		"signature": base64.StdEncoding.EncodeToString(sig)}, b.xsrf())
	if r.status != http.StatusCreated || !bytes.Contains(r.body, []byte(`"algorithm":"ECDSA-P256"`)) {
		t.Fatalf("link: %d %s", r.status, r.body)
	}
	if r := b.do(t, "POST", "/api/cert/link", map[string]string{"certificate": string(certPEM), "challenge": ch.Challenge,
		"signature": base64.StdEncoding.EncodeToString(sig)}, b.xsrf()); r.status != http.StatusUnprocessableEntity || r.problem(t).Code != "link_challenge_invalid" {
		t.Errorf("replayed proof: %d %s", r.status, r.body)
	}
	gost, _ := os.ReadFile("../person/testdata/kz-gost2012-512.pem")
	r = b.do(t, "POST", "/api/cert/link/challenge", nil, b.xsrf())
	r.decode(t, &ch)
	r = b.do(t, "POST", "/api/cert/link", map[string]string{"certificate": string(gost), "challenge": ch.Challenge,
		"signature": base64.StdEncoding.EncodeToString([]byte("a GOST signature"))}, b.xsrf())
	if r.status != http.StatusUnprocessableEntity || r.problem(t).Code != "gost_proof_unsupported" {
		t.Errorf("GOST proof: %d %s", r.status, r.body)
	}
	if r := b.do(t, "POST", "/api/cert/link", map[string]string{"certificate": string(certPEM), "signature": "%%"}, b.xsrf()); r.status != http.StatusBadRequest {
		t.Errorf("bad link request: %d %s", r.status, r.body)
	}
}

func TestSignex_RateLimitsAsPublished(t *testing.T) {
	s := newSignexServer(t)
	ten := newTenant(t)
	p, _ := s.portalPerson(t, ten.test, "portal-password-9")

	retryAfter := func(t *testing.T, r result) {
		t.Helper()
		if r.status != http.StatusTooManyRequests || r.problem(t).Code != "rate_limited" {
			t.Fatalf("%d %s, want 429", r.status, r.body)
		}
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	t.Run("login: 10 per 5 minutes per IP", func(t *testing.T) {
		b := s.client(nextIP())
		for i := 0; i < 10; i++ {
			if r := b.login(t, p.Email, "wrong-password"); r.status != http.StatusUnauthorized {
				t.Fatalf("login %d: %d", i+1, r.status)
			}
		}
		r := b.login(t, p.Email, "portal-password-9")
		retryAfter(t, r)
		if n, _ := strconv.Atoi(r.header.Get("Retry-After")); n < 20 || n > 300 {
			t.Errorf("Retry-After %d s: the 5-minute window frees one request every 30 s", n)
		}
		if r := s.client(nextIP()).login(t, p.Email, "portal-password-9"); r.status != http.StatusOK {
			t.Errorf("another IP: %d", r.status)
		}
	})
	t.Run("cert/mine: 60 per minute per person", func(t *testing.T) {
		b, c := s.client(nextIP()), s.client(nextIP())
		b.login(t, p.Email, "portal-password-9")
		c.login(t, p.Email, "portal-password-9")
		start := time.Now()
		for i := 0; i < 60; i++ {
			// Two sessions from two addresses share the person's budget.
			who := b
			if i%2 == 1 {
				who = c
			}
			if r := who.do(t, "GET", "/api/cert/mine", nil, nil); r.status != http.StatusOK {
				t.Fatalf("request %d: %d", i+1, r.status)
			}
		}
		// The budget refills one request a second; on a slow machine the
		// 60 took seconds, so as many more may pass before the 429.
		for extra := 0; ; extra++ {
			r := b.do(t, "GET", "/api/cert/mine", nil, nil)
			if r.status != http.StatusOK {
				retryAfter(t, r)
				break
			}
			if refilled := int(time.Since(start)/time.Second) + 1; extra >= refilled {
				t.Fatalf("%d requests over 60 passed in %s", extra+1, time.Since(start))
			}
		}
	})
	t.Run("cert/link: 10 per minute per person", func(t *testing.T) {
		b := s.client(nextIP())
		b.login(t, p.Email, "portal-password-9")
		for i := 0; i < 10; i++ {
			if r := b.do(t, "POST", "/api/cert/link", map[string]string{}, b.xsrf()); r.status != http.StatusBadRequest {
				t.Fatalf("link %d: %d %s", i+1, r.status, r.body)
			}
		}
		retryAfter(t, b.do(t, "POST", "/api/cert/link", map[string]string{}, b.xsrf()))
	})
	t.Run("cert/link: 30 per hour per IP", func(t *testing.T) {
		ip := nextIP()
		sent := 0
		for person := 0; person < 4; person++ {
			q, _ := s.portalPerson(t, ten.test, "portal-password-10")
			b := s.client(ip)
			if r := b.login(t, q.Email, "portal-password-10"); r.status != http.StatusOK {
				t.Fatalf("login: %d", r.status)
			}
			for i := 0; i < 8 && sent < 30; i++ {
				if r := b.do(t, "POST", "/api/cert/link", map[string]string{}, b.xsrf()); r.status != http.StatusBadRequest {
					t.Fatalf("link %d: %d %s", sent+1, r.status, r.body)
				}
				sent++
			}
			if sent == 30 {
				r := b.do(t, "POST", "/api/cert/link", map[string]string{}, b.xsrf())
				retryAfter(t, r)
				if !strings.Contains(r.header.Get("RateLimit-Policy"), "w=3600") {
					t.Errorf("RateLimit-Policy %q, want the hour window", r.header.Get("RateLimit-Policy"))
				}
				return
			}
		}
		t.Fatal("never reached 30 requests")
	})
}
