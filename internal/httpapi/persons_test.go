package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pki"
)

// personEnv is the person service shared by this package's tests: one PKI
// and one keyring (the database's key checks pin the first keyring used).
var personEnv struct {
	once sync.Once
	ca   *pki.PKI
	keys *person.Keyring
	err  error
}

var testArgon2 = person.Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}

func personDeps(t testing.TB) (*pki.PKI, *person.Keyring) {
	t.Helper()
	personEnv.once.Do(func() {
		dir := t.TempDir()
		personEnv.ca, personEnv.err = pki.LoadOrCreate(context.Background(), dir, "http://127.0.0.1:9", pki.WithStore(pki.NewDBStore(env.pg.DB)))
		k1, _ := person.NewKEKString()
		k2, _ := person.NewKEKString()
		kek, _ := person.ParseKEK(k1)
		rec, _ := person.ParseKEK(k2)
		personEnv.keys = &person.Keyring{KEK: kek, Recovery: rec}
	})
	if personEnv.err != nil {
		t.Fatal(personEnv.err)
	}
	return personEnv.ca, personEnv.keys
}

// personServer is the router with the persons API, logging into logs.
type personServer struct {
	*testServer
	persons *person.Service
	logs    *bytes.Buffer
	logMu   *sync.Mutex
}

func (s *personServer) logText() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
}

func newPersonServer(t testing.TB, mounts ...func(*person.Service) func(*echo.Echo, *echo.Group)) *personServer {
	t.Helper()
	ca, keys := personDeps(t)
	svc, err := person.NewService(env.pg.DB, ca, keys, person.Config{Argon2: testArgon2})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	m := []func(*echo.Echo, *echo.Group){httpapi.PersonRoutes(svc)}
	for _, f := range mounts {
		m = append(m, f(svc))
	}
	e, err := httpapi.New(httpapi.Deps{
		Log:      slogTo(&logs, &mu),
		Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Redis: env.redis.Client, RateLimits: httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 100000, Burst: 100000},
			PerIP: httpapi.RateLimit{PerMinute: 100000, Burst: 100000}},
		Idempotency: idempotency.NewStore(env.pg.DB), TrustedProxies: loopbackProxy,
		Mount: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(e)
	t.Cleanup(s.Close)
	return &personServer{testServer: &testServer{Server: s}, persons: svc, logs: &logs, logMu: &mu}
}

func mustJSON(v any) *bytes.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return bytes.NewReader(b)
}

type personJSON struct {
	ID          string  `json:"id"`
	UniqueID    string  `json:"uniqueId"`
	Email       string  `json:"email"`
	NationalID  *string `json:"nationalId"`
	HasPassword bool    `json:"hasPassword"`
}

type certificateJSON struct {
	ID           string `json:"id"`
	Index        int    `json:"index"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	IsPrimary    bool   `json:"isPrimary"`
	Origin       string `json:"origin"`
	HasKey       bool   `json:"hasKey"`
	Algorithm    string `json:"algorithm"`
	SerialNumber string `json:"serialNumber"`
	Thumbprint   string `json:"thumbprint"`
	Subject      string `json:"subject"`
	Template     string `json:"template"`
	Certificate  string `json:"certificate"`
}

var uniq struct {
	sync.Mutex
	n int
}

func nextN() int {
	uniq.Lock()
	defer uniq.Unlock()
	uniq.n++
	return uniq.n
}

func (s *personServer) createPerson(t testing.TB, key string, body map[string]any) personJSON {
	t.Helper()
	r := s.do(t, call{method: "POST", path: "/api/v1/persons", key: key, contentType: "application/json", body: mustJSON(body)})
	if r.status != http.StatusCreated {
		t.Fatalf("create person: %d %s", r.status, r.body)
	}
	var p personJSON
	r.decode(t, &p)
	return p
}

func newPersonBody() map[string]any {
	n := nextN()
	return map[string]any{"uniqueId": fmt.Sprintf("person%d@uni.localhost", n),
		"email": fmt.Sprintf("person.%d.%d@example.com", n, time.Now().UnixNano()), "name": "Ada Lovelace"}
}

func TestPersons_CreateReadListUpdateDelete(t *testing.T) {
	s := newPersonServer(t)
	ten := newTenant(t)
	body := newPersonBody()
	body["nationalId"] = "123456789012"
	body["password"] = "portal-secret-2718"
	p := s.createPerson(t, ten.test, body)
	if p.UniqueID != body["uniqueId"] || p.NationalID == nil || *p.NationalID != "123456789012" || !p.HasPassword {
		t.Fatalf("created %+v", p)
	}
	dup := s.do(t, call{method: "POST", path: "/api/v1/persons", key: ten.test, contentType: "application/json", body: mustJSON(body)})
	if dup.status != http.StatusConflict || dup.problem(t).Code != "person_unique_id_taken" {
		t.Errorf("duplicate uniqueId: %d %s", dup.status, dup.body)
	}
	other := newPersonBody()
	other["email"] = strings.ToUpper(body["email"].(string))
	dup = s.do(t, call{method: "POST", path: "/api/v1/persons", key: ten.live, contentType: "application/json", body: mustJSON(other)})
	if dup.status != http.StatusConflict || dup.problem(t).Code != "person_email_taken" {
		t.Errorf("duplicate e-mail from the live environment: %d %s", dup.status, dup.body)
	}

	get := s.do(t, call{method: "GET", path: "/api/v1/persons/" + p.ID, key: ten.test})
	if get.status != http.StatusOK || get.header.Get("ETag") != `"v1"` {
		t.Fatalf("get: %d %s %q", get.status, get.body, get.header.Get("ETag"))
	}
	if got := s.do(t, call{method: "GET", path: "/api/v1/persons/" + p.ID, key: ten.live}); got.status != http.StatusNotFound || got.problem(t).Code != "person_not_found" {
		t.Errorf("the live key sees the test person: %d", got.status)
	}

	list := s.do(t, call{method: "GET", path: "/api/v1/persons?email=" + strings.ToUpper(p.Email), key: ten.test})
	var page struct {
		Total int          `json:"total"`
		Data  []personJSON `json:"data"`
	}
	list.decode(t, &page)
	if list.status != http.StatusOK || page.Total != 1 || page.Data[0].ID != p.ID {
		t.Fatalf("filter by e-mail: %d %s", list.status, list.body)
	}
	list = s.do(t, call{method: "GET", path: "/api/v1/persons?uniqueId=nobody&limit=1001&colour=red", key: ten.test})
	if pr := list.problem(t); list.status != http.StatusBadRequest || len(pr.InvalidParams) != 2 {
		t.Errorf("bad list parameters: %d %s", list.status, list.body)
	}

	stale := s.do(t, call{method: "PATCH", path: "/api/v1/persons/" + p.ID, key: ten.test, contentType: "application/json",
		header: map[string]string{"If-Match": `"v7"`}, body: jsonBody(`{"name":"Augusta Ada King"}`)})
	if stale.status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", stale.status)
	}
	upd := s.do(t, call{method: "PATCH", path: "/api/v1/persons/" + p.ID, key: ten.test, contentType: "application/merge-patch+json",
		header: map[string]string{"If-Match": `"v1"`}, body: jsonBody(`{"name":"Augusta Ada King","nationalId":"","password":""}`)})
	var updated personJSON
	upd.decode(t, &updated)
	if upd.status != http.StatusOK || updated.NationalID != nil || updated.HasPassword {
		t.Fatalf("update: %d %s", upd.status, upd.body)
	}

	del := s.do(t, call{method: "DELETE", path: "/api/v1/persons/" + p.ID, key: ten.test})
	if del.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	if got := s.do(t, call{method: "GET", path: "/api/v1/persons/" + p.ID, key: ten.test}); got.status != http.StatusNotFound {
		t.Errorf("after delete: %d", got.status)
	}
	for _, secret := range []string{"portal-secret-2718"} {
		if strings.Contains(s.logText(), secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

func TestPersons_Create400(t *testing.T) {
	s := newPersonServer(t)
	ten := newTenant(t)
	cases := []struct {
		name, body string
		params     []string
	}{
		{"unknown field", `{"uniqueId":"u","email":"u@example.com","name":"U","role":"admin"}`, []string{"role"}},
		{"wrong types", `{"uniqueId":7,"email":"u@example.com","name":true}`, []string{"name", "uniqueId"}},
		{"nothing", `{}`, []string{"email", "name", "uniqueId"}},
		{"bad address, short password", `{"uniqueId":"u","email":"not-an-address","name":"U","password":"short"}`, []string{"email", "password"}},
		{"NUL in the name", `{"uniqueId":"u","email":"u@example.com","name":"U\u0000"}`, []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, call{method: "POST", path: "/api/v1/persons", key: ten.test, contentType: "application/json", body: jsonBody(tc.body)})
			if r.status != http.StatusBadRequest {
				t.Fatalf("%d %s", r.status, r.body)
			}
			p := r.problem(t)
			var names []string
			for _, ip := range p.InvalidParams {
				names = append(names, ip.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.params, ",") {
				t.Errorf("invalidParams %v, want %v", names, tc.params)
			}
		})
	}
	if r := s.do(t, call{method: "POST", path: "/api/v1/persons", key: ten.test, contentType: "text/plain", body: jsonBody(`{}`)}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d", r.status)
	}
}

func selfSignedPEM(t testing.TB) ([]byte, *ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "Outside holder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour * 365),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, cert
}

func TestPersonCertificates_IssueImportLinkAndManage(t *testing.T) {
	s := newPersonServer(t)
	ten := newTenant(t)
	p := s.createPerson(t, ten.test, newPersonBody())
	base := "/api/v1/persons/" + p.ID + "/certificates"
	post := func(body any) result {
		return s.do(t, call{method: "POST", path: base, key: ten.test, contentType: "application/json", body: mustJSON(body)})
	}

	r := post(map[string]any{"type": "PERSONAL", "password": "pin-246810", "validityDays": 365})
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	var issued certificateJSON
	r.decode(t, &issued)
	if issued.Index != 0 || !issued.IsPrimary || issued.Origin != "issued" || !issued.HasKey || issued.Status != "valid" ||
		issued.Template != "Individual" || issued.Algorithm != "ECDSA-P256" || len(issued.Thumbprint) != 40 ||
		!strings.HasPrefix(issued.Certificate, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("issued: %s", r.body)
	}

	// The key the platform generated is nowhere in the log.
	u, err := s.persons.Unlock(context.Background(), ten.testKey.Scope(), issued.ID, "pin-246810")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(u.Signer)
	scalar, _ := u.Signer.(*ecdsa.PrivateKey).Bytes()
	for name, secret := range map[string]string{
		"PKCS#8 base64": base64.StdEncoding.EncodeToString(keyDER)[:40], "PKCS#8 hex": fmt.Sprintf("%x", keyDER)[:40],
		"scalar hex": fmt.Sprintf("%x", scalar), "PEM": "PRIVATE KEY",
	} {
		if strings.Contains(s.logText(), secret) {
			t.Errorf("the log contains the private key (%s)", name)
		}
	}

	_, key, cert := selfSignedPEM(t)
	pfx, _ := pkcs12.Modern.Encode(key, cert, nil, "p12-pw")
	r = post(map[string]any{"pkcs12": base64.StdEncoding.EncodeToString(pfx), "pkcs12Password": "p12-pw", "password": "pin-13579"})
	var imported certificateJSON
	r.decode(t, &imported)
	if r.status != http.StatusCreated || imported.Index != 1 || imported.Origin != "imported" || imported.IsPrimary {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	linkPEM, _, _ := selfSignedPEM(t)
	r = post(map[string]any{"certificate": string(linkPEM), "isPrimary": true})
	var linked certificateJSON
	r.decode(t, &linked)
	if r.status != http.StatusCreated || linked.Origin != "linked" || linked.HasKey || !linked.IsPrimary || linked.Index != 2 {
		t.Fatalf("link: %d %s", r.status, r.body)
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
		params []string
	}{
		{"issue without a password", map[string]any{"type": "PERSONAL"}, 400, []string{"password"}},
		{"issue with a short PIN and a bad type", map[string]any{"type": "ROBOT", "password": "12"}, 400, []string{"password", "type"}},
		{"issue for 50 years", map[string]any{"password": "pin-246810", "validityDays": 18250}, 400, []string{"validityDays"}},
		{"both pkcs12 and certificate", map[string]any{"pkcs12": "AAAA", "certificate": string(linkPEM)}, 400, []string{"certificate"}},
		{"link with a password", map[string]any{"certificate": string(linkPEM), "password": "pin-246810"}, 400, []string{"password"}},
		{"import with a wrong file password", map[string]any{"pkcs12": base64.StdEncoding.EncodeToString(pfx), "pkcs12Password": "x", "password": "pin-13579"}, 400, []string{"pkcs12Password"}},
		{"import of non-base64", map[string]any{"pkcs12": "%%%", "password": "pin-13579"}, 400, []string{"pkcs12"}},
		{"link of garbage", map[string]any{"certificate": "hello"}, 400, []string{"certificate"}},
		{"unknown field", map[string]any{"password": "pin-246810", "keyUsage": "all"}, 400, []string{"keyUsage"}},
		{"the same certificate again", map[string]any{"certificate": string(linkPEM)}, 409, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.body)
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d\n%s", r.status, r.body, tc.status, s.logText())
			}
			var names []string
			for _, ip := range r.problem(t).InvalidParams {
				names = append(names, ip.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.params, ",") {
				t.Errorf("invalidParams %v, want %v", names, tc.params)
			}
		})
	}

	other := newTenant(t)
	if r := s.do(t, call{method: "GET", path: base + "/" + issued.ID, key: other.test}); r.status != http.StatusNotFound {
		t.Errorf("another account reads the certificate: %d", r.status)
	}
	if r := s.do(t, call{method: "POST", path: "/api/v1/persons/per_nobody/certificates", key: ten.test, contentType: "application/json",
		body: jsonBody(`{"certificate":"x"}`)}); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
		t.Errorf("unknown person: %d", r.status)
	}

	r = s.do(t, call{method: "PATCH", path: base + "/" + issued.ID, key: ten.test, contentType: "application/json",
		body: jsonBody(`{"isPrimary":true,"status":"disabled"}`)})
	var patched certificateJSON
	r.decode(t, &patched)
	if r.status != http.StatusOK || !patched.IsPrimary || patched.Status != "disabled" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	if r := s.do(t, call{method: "PATCH", path: base + "/" + issued.ID, key: ten.test, contentType: "application/json",
		body: jsonBody(`{"status":"revoked"}`)}); r.status != http.StatusBadRequest {
		t.Errorf("status revoked through PATCH: %d", r.status)
	}
	if r := s.do(t, call{method: "POST", path: base + "/" + issued.ID + "/revoke", key: ten.test, contentType: "application/json",
		body: jsonBody(`{"reason":"lostIt"}`)}); r.status != http.StatusBadRequest {
		t.Errorf("unknown reason: %d", r.status)
	}
	r = s.do(t, call{method: "POST", path: base + "/" + issued.ID + "/revoke", key: ten.test, contentType: "application/json",
		body: jsonBody(`{"reason":"keyCompromise"}`)})
	var revoked struct {
		certificateJSON
		RevocationReason string `json:"revocationReason"`
	}
	r.decode(t, &revoked)
	if r.status != http.StatusOK || revoked.Status != "revoked" || revoked.HasKey || revoked.RevocationReason != "keyCompromise" {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := s.do(t, call{method: "PATCH", path: base + "/" + issued.ID, key: ten.test, contentType: "application/json",
		body: jsonBody(`{"status":"valid"}`)}); r.status != http.StatusConflict || r.problem(t).Code != "certificate_revoked" {
		t.Errorf("re-enabling a revoked certificate: %d %s", r.status, r.body)
	}

	list := s.do(t, call{method: "GET", path: base + "?sort=-index", key: ten.test})
	var page struct {
		Total int               `json:"total"`
		Data  []certificateJSON `json:"data"`
	}
	list.decode(t, &page)
	if list.status != http.StatusOK || page.Total != 3 || page.Data[0].Index != 2 {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	for _, secret := range []string{"pin-246810", "pin-13579", "p12-pw"} {
		if strings.Contains(s.logText(), secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// TestPersons_IdempotencyKeepsNoTestableTraceOfThePassword creates a person
// with a password under an Idempotency-Key: the stored request fingerprint
// must not be recomputable from what the database holds, or a stolen
// database could test password (and PIN) guesses against it.
func TestPersons_IdempotencyKeepsNoTestableTraceOfThePassword(t *testing.T) {
	s := newPersonServer(t)
	ten := newTenant(t)
	body := newPersonBody()
	body["password"] = "guessable-1"
	raw, _ := json.Marshal(body)
	post := func() result {
		return s.do(t, call{method: "POST", path: "/api/v1/persons", key: ten.test, contentType: "application/json",
			header: map[string]string{"Idempotency-Key": "create-" + body["uniqueId"].(string)}, body: bytes.NewReader(raw)})
	}
	first, again := post(), post()
	if first.status != http.StatusCreated || again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" ||
		!bytes.Equal(first.body, again.body) {
		t.Fatalf("retry: %d %d %q", first.status, again.status, again.header.Get("Idempotent-Replayed"))
	}
	var stored string
	if err := env.pg.DB.Conn(context.Background()).Raw("SELECT request_hash FROM idempotency_keys WHERE key = ?",
		"create-"+body["uniqueId"].(string)).Scan(&stored).Error; err != nil || stored == "" {
		t.Fatalf("stored fingerprint %q: %v", stored, err)
	}
	// What an attacker with the database could compute for a guess.
	h := sha256.New()
	for _, part := range []string{"POST", "/api/v1/persons", "", "application/json"} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(raw)
	if fmt.Sprintf("%x", h.Sum(nil)) == stored {
		t.Fatal("the fingerprint is an unkeyed hash of the body: the password can be guessed offline")
	}
}
