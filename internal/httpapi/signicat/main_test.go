package signicat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/signicat"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/packaging"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/seal"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/openapi"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// env is the package's real services: PostgreSQL, Redis, versitygw.
var env struct {
	svc      *testenv.Services
	s3       *testenv.S3Server
	blobs    blob.Store
	accounts *account.Service
	docs     *document.Service
	server   *httptest.Server
	contract routers.Router
	ca       *pki.PKI
	sealer   seal.Sealer
	nssdir   string
	pkgs     *packaging.Service
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	var err error
	if env.svc, err = testenv.StartServices(ctx, "signicat"); err != nil {
		return fail(err)
	}
	defer env.svc.Close()
	if env.s3, err = testenv.StartS3(ctx); err != nil {
		return fail(err)
	}
	defer env.s3.Close()
	if env.blobs, err = blob.NewS3Store(ctx, env.s3.BlobConfig()); err != nil {
		return fail(err)
	}
	env.accounts = account.NewService(env.svc.PG.DB)
	env.docs = document.NewService(env.svc.PG.DB, env.blobs, envelope.NewDocumentUsage(env.svc.PG.DB), document.Config{})
	openapi3filter.RegisterBodyDecoder("application/pdf", openapi3filter.FileBodyDecoder)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.YAML)
	if err != nil {
		return fail(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return fail(fmt.Errorf("openapi.yaml is not a valid document: %w", err))
	}
	doc.Servers = nil
	if env.contract, err = legacy.NewRouter(doc); err != nil {
		return fail(err)
	}
	// The listener comes first: its address is the public URL written into
	// certificates (OCSP, CRL) and the TSA's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	base := "http://" + ln.Addr().String()
	dir, err := os.MkdirTemp("", "vellum-signicat-pki-*")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	if env.ca, err = pki.LoadOrCreate(ctx, dir, base, pki.WithStore(pki.NewDBStore(env.svc.PG.DB))); err != nil {
		return fail(err)
	}
	tsaCred := env.ca.TSA()
	tsaSrv, err := tsa.New(tsa.Config{Cert: tsaCred.Cert, Key: tsaCred.Key, Chain: tsaCred.Chain[:1]})
	if err != nil {
		return fail(err)
	}
	ts, err := rfc3161.NewClient([]rfc3161.Server{{Name: "builtin", URL: base + "/tsa"}})
	if err != nil {
		return fail(err)
	}
	env.sealer = seal.Sealer{Timestamper: ts, Revocation: env.ca.Revocation(nil)}
	if err := os.Mkdir(filepath.Join(dir, "nss"), 0o700); err != nil {
		return fail(err)
	}
	if env.nssdir, err = testenv.NSSDB(filepath.Join(dir, "nss"), env.ca.Root()); err != nil {
		return fail(err)
	}
	merchant := &seal.Documents{Docs: env.docs, Sealer: env.sealer,
		Credential: func(context.Context, account.Scope) (pki.Credential, error) { return env.ca.Seal(), nil }}
	env.pkgs = &packaging.Service{DB: env.svc.PG.DB, Outbox: jobs.NewOutbox(env.svc.PG.DB), Docs: env.docs, Sealer: env.sealer, Seal: env.ca.Seal}
	limits := httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 100000, Burst: 100000},
		PerIP: httpapi.RateLimit{PerMinute: 100000, Burst: 100000}}
	e, err := httpapi.New(httpapi.Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Redis: env.svc.Redis.Client, RateLimits: limits,
		Mount: []func(*echo.Echo, *echo.Group){
			func(e *echo.Echo, _ *echo.Group) {
				h := echo.WrapHandler(env.ca.Handler())
				e.GET("/pki/*", h)
				e.POST("/pki/ocsp", h)
				e.POST("/tsa", echo.WrapHandler(tsaSrv))
			},
			httpapi.KeyRoutes(env.accounts), httpapi.OAuthClientRoutes(env.accounts),
			signicat.Routes(signicat.Deps{Accounts: env.accounts, Documents: env.docs,
				Collections: collection.NewService(env.svc.PG.DB, env.docs), Merchant: merchant, Packages: env.pkgs}),
		},
	})
	if err != nil {
		return fail(err)
	}
	env.server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e}}
	env.server.Start()
	defer env.server.Close()
	return m.Run()
}

// tenant is an account with a test API key.
type tenant struct {
	scope  account.Scope
	apiKey string
}

func newTenant(t testing.TB) *tenant {
	t.Helper()
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Tenant "+t.Name(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := env.accounts.CreateKey(ctx, a.ID, account.Test, "signicat")
	if err != nil {
		t.Fatal(err)
	}
	return &tenant{scope: k.Scope(), apiKey: secret}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	list   []any
	raw    []byte
}

// req is one request: method, path, bearer credential, body and its type.
type req struct {
	method, path, bearer string
	contentType          string
	body                 []byte
	basicUser, basicPass string
}

// do sends r and checks the answer against openapi.yaml.
func do(t testing.TB, r req) response {
	t.Helper()
	hr, err := http.NewRequest(r.method, env.server.URL+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.basicUser != "" {
		hr.SetBasicAuth(r.basicUser, r.basicPass)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	checkContract(t, r.method, r.path, resp.StatusCode, resp.Header, raw)
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			err = json.Unmarshal(raw, &out.list)
		} else {
			err = json.Unmarshal(raw, &out.body)
		}
		if err != nil {
			t.Fatalf("%s %s: %v in %s", r.method, r.path, err, raw)
		}
	}
	return out
}

// jsonReq is a JSON request with a bearer credential.
func jsonReq(method, path, bearer, body string) req {
	return req{method: method, path: path, bearer: bearer, contentType: "application/json", body: []byte(body)}
}

// form posts a form to the token endpoint.
func form(v url.Values) req {
	return req{method: http.MethodPost, path: signicat.TokenPath, contentType: "application/x-www-form-urlencoded", body: []byte(v.Encode())}
}

// checkContract validates a response against openapi.yaml: an undocumented
// route, status, header or body fails t.
func checkContract(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	u, _ := url.Parse(env.server.URL + path)
	hr, _ := http.NewRequest(method, u.String(), nil)
	route, params, err := env.contract.FindRoute(hr)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed && status != http.StatusUnauthorized {
			t.Errorf("contract: %s %s is not in openapi.yaml (status %d)", method, u.Path, status)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if verr := openapi3filter.ValidateResponse(context.Background(), in); verr != nil {
		t.Errorf("contract: %s %s → %d violates openapi.yaml: %v\nbody: %.500s", method, u.Path, status, verr, body)
	}
}

// oauthClient creates an OAuth client through the native API.
func (tn *tenant) oauthClient(t testing.TB) (id, clientID, secret string) {
	t.Helper()
	r := do(t, jsonReq(http.MethodPost, "/api/v1/oauth-clients", tn.apiKey, `{"name":"integration"}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create oauth client: %d %s", r.status, r.raw)
	}
	return r.body["id"].(string), r.body["clientId"].(string), r.body["clientSecret"].(string)
}

// token gets an access token with the client credentials in the form.
func (tn *tenant) token(t testing.TB) string {
	t.Helper()
	_, id, secret := tn.oauthClient(t)
	r := do(t, form(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"signicat-api"}}))
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	return r.body["access_token"].(string)
}

// testPDF is the repository's fixture PDF.
func testPDF(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../test/fixtures/test.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload posts body with contentType to /sign/documents and returns the
// documentId.
func upload(t testing.TB, bearer, contentType string, body []byte) string {
	t.Helper()
	r := do(t, req{method: http.MethodPost, path: "/sign/documents", bearer: bearer, contentType: contentType, body: body})
	if r.status != http.StatusCreated {
		t.Fatalf("upload %s: %d %s", contentType, r.status, r.raw)
	}
	return r.body["documentId"].(string)
}

// checkSealed runs pdfsig on pdf and fails t unless every signature is
// valid and trusted and the last one covers the whole file; it returns
// pdfsig's report.
func checkSealed(t testing.TB, pdf []byte, wantSigs int) []testenv.PdfsigSignature {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sealed.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	sigs, out, err := testenv.Pdfsig(env.nssdir, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// pdfsig cannot validate the B-LTA document timestamp (ETSI.RFC3161);
	// the CAdES signatures it can, it must find valid and trusted.
	var cades []testenv.PdfsigSignature
	for _, s := range sigs {
		if s.Type == "ETSI.CAdES.detached" {
			cades = append(cades, s)
		}
	}
	if len(cades) != wantSigs {
		t.Fatalf("pdfsig found %d CAdES signatures, want %d:\n%s", len(cades), wantSigs, out)
	}
	for _, s := range cades {
		if !s.Valid() || !s.Trusted() {
			t.Fatalf("pdfsig: signature of %s is not valid and trusted:\n%s", s.Signer, out)
		}
	}
	if len(sigs) == len(cades) {
		t.Fatalf("no document timestamp (B-LTA) after the seal:\n%s", out)
	}
	if !sigs[len(sigs)-1].Total {
		t.Fatalf("the last revision does not cover the whole file:\n%s", out)
	}
	return cades
}
