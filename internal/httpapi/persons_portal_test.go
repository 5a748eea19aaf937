package httpapi_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/signex"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/portalpage"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/websession"
)

// page fetches a portal page as a browser with b's cookies would.
func (b *browserish) page(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.s.URL+path, nil)
	req.Header.Set("X-Forwarded-For", b.ip)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func TestPortalPage_RendersFromTheSignexAPI(t *testing.T) {
	ps := newPersonServer(t, func(svc *person.Service) func(*echo.Echo, *echo.Group) {
		return signex.Routes(signex.Deps{Persons: svc, Sessions: websession.New(env.pg.DB, websession.Config{}),
			Limiter: httpapi.NewRateLimiter(env.redis.Client)})
	}, func(*person.Service) func(*echo.Echo, *echo.Group) { return portalpage.Routes(nil) })
	s := &signexServer{personServer: ps, clock: &testenv.Clock{}}
	ten := newTenant(t)
	body := newPersonBody()
	body["name"] = `Ada <script>alert(1)</script> Lovelace`
	body["password"] = "portal-password-11"
	p := s.createPerson(t, ten.test, body)
	r := s.do(t, call{method: "POST", path: "/api/v1/persons/" + p.ID + "/certificates", key: ten.test, contentType: "application/json",
		body: jsonBody(`{"password":"pin-246810"}`)})
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	var issued certificateJSON
	r.decode(t, &issued)
	_, other := s.portalPerson(t, ten.test, "portal-password-12")

	b := s.client(nextIP())
	status, h, html := b.page(t, "/portal")
	if status != http.StatusOK || !strings.Contains(html, `id="login-form"`) {
		t.Fatalf("logged out: %d %.300s", status, html)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers %v", h)
	}
	if strings.Contains(html, "<script>") && regexp.MustCompile(`<script>[^<]`).MatchString(html) {
		t.Error("inline script on the page")
	}
	for _, asset := range regexp.MustCompile(`/portal/assets/[a-z]+\.[0-9a-f]{16}\.(?:css|js)`).FindAllString(html, -1) {
		if st, ah, _ := b.page(t, asset); st != http.StatusOK || !strings.Contains(ah.Get("Cache-Control"), "immutable") {
			t.Errorf("asset %s: %d %v", asset, st, ah)
		}
	}

	if r := b.login(t, p.Email, "portal-password-11"); r.status != http.StatusOK {
		t.Fatalf("login: %d", r.status)
	}
	status, _, html = b.page(t, "/portal")
	if status != http.StatusOK || !strings.Contains(html, `data-cert-id="`+issued.ID+`"`) || !strings.Contains(html, "ECDSA-P256") {
		t.Fatalf("my certificates: %d %.500s", status, html)
	}
	if strings.Contains(html, "<script>alert(1)</script>") || !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the person's name is not escaped")
	}
	status, _, html = b.page(t, "/portal/certificates/"+issued.ID)
	if status != http.StatusOK || !strings.Contains(html, `id="extensions"`) || !strings.Contains(html, "keyUsage") ||
		!strings.Contains(html, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("detail: %d %.500s", status, html)
	}
	if status, _, html = b.page(t, "/portal/certificates/"+other.ID); status != http.StatusNotFound || !strings.Contains(html, "Certificate not found") {
		t.Errorf("another person's certificate: %d %.300s", status, html)
	}

	b.do(t, "POST", "/api/auth/logout", nil, b.xsrf())
	if status, _, html = b.page(t, "/portal/certificates/"+issued.ID); status != http.StatusOK || !strings.Contains(html, `data-next="/portal/certificates/`+issued.ID+`"`) {
		t.Errorf("detail after logout: %d %.300s", status, html)
	}
}
