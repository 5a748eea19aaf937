package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/mail/mailtest"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/revocation"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// h is the package's real stack: PostgreSQL, Redis, versitygw (S3), the
// in-process SMTP server, the platform PKI and built-in TSA, the full
// router in httptest and a worker running the envelope tasks.
var h struct {
	pg       *testenv.Postgres
	redis    *testenv.Redis
	s3       *testenv.S3Server
	blobs    blob.Store
	smtp     *mailtest.Server
	pki      *pki.PKI
	pkiDir   string
	accounts *account.Service
	docs     *document.Service
	svc      *envelope.Service
	outbox   *jobs.Outbox
	hooks    *webhook.Service
	base     string
	srv      *httptest.Server
	// op is a real OpenID provider, configured as identity provider
	// "testid" with the national identification number in
	// preferred_username.
	op *testenv.OIDCProvider
	// clock is what the PKI, the TSA and the service read; tests that need
	// certificates to expire move it.
	clock testenv.Clock
}

// pkiEpoch is how far back the test hierarchy's certificates start, so that
// tests can sign in the past and let signer certificates expire.
const pkiEpoch = -60 * 24 * time.Hour

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	svc, err := testenv.StartServices(ctx, "envelope")
	if err != nil {
		return fail(err)
	}
	defer svc.Close()
	h.pg, h.redis = svc.PG, svc.Redis
	if h.s3, err = testenv.StartS3(ctx); err != nil {
		return fail(err)
	}
	defer h.s3.Close()
	if h.blobs, err = blob.NewS3Store(ctx, h.s3.BlobConfig()); err != nil {
		return fail(err)
	}
	if h.smtp, err = mailtest.Start(); err != nil {
		return fail(err)
	}
	defer h.smtp.Close()
	mailer, err := mail.NewSMTP(mail.SMTPConfig{Host: h.smtp.Host(), Port: h.smtp.Port(), TLS: "none", From: "Vellum <no-reply@vellum.test>"})
	if err != nil {
		return fail(err)
	}

	// The listener comes first: its address is the public URL written into
	// certificates (OCSP, CRL) and signing links.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	h.base = "http://" + ln.Addr().String()
	if h.pkiDir, err = os.MkdirTemp("", "vellum-envelope-pki-*"); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(h.pkiDir)
	h.clock.Shift(pkiEpoch)
	if h.pki, err = pki.LoadOrCreate(ctx, h.pkiDir, h.base, pki.WithStore(pki.NewDBStore(h.pg.DB)), pki.WithClock(h.clock.Now)); err != nil {
		return fail(err)
	}
	h.clock.Shift(0)
	tsaCred := h.pki.TSA()
	tsaSrv, err := tsa.New(tsa.Config{Cert: tsaCred.Cert, Key: tsaCred.Key, Chain: tsaCred.Chain[:1], Now: h.clock.Now})
	if err != nil {
		return fail(err)
	}
	ts, err := rfc3161.NewClient([]rfc3161.Server{{Name: "builtin", URL: h.base + "/tsa"}})
	if err != nil {
		return fail(err)
	}

	if h.op, err = testenv.StartOIDCProvider(ctx, []string{h.base + httpapi.OIDCCallbackPath}, oidcUsers); err != nil {
		return fail(err)
	}
	defer h.op.Close()
	opHost, err := outbound.HostPort(h.op.Issuer)
	if err != nil {
		return fail(err)
	}
	providers, err := idp.New([]idp.Provider{{Name: "testid", Issuer: h.op.Issuer, ClientID: h.op.ClientID,
		ClientSecret: h.op.ClientSecret, Scopes: []string{"profile", "email"}, NationalIDClaim: "preferred_username"}},
		h.base+httpapi.OIDCCallbackPath, outbound.NewClient(outbound.Config{AllowHosts: []string{opHost}}))
	if err != nil {
		return fail(err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("VELLUM_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	h.accounts = account.NewService(h.pg.DB)
	h.outbox = jobs.NewOutbox(h.pg.DB)
	h.docs = document.NewService(h.pg.DB, h.blobs, envelope.NewDocumentUsage(h.pg.DB), document.Config{})
	h.hooks = webhook.NewService(h.pg.DB, h.outbox, webhook.Config{AllowHTTP: true, AllowPrivate: true})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	h.svc, err = envelope.NewService(envelope.Deps{
		DB: h.pg.DB, Outbox: h.outbox, Blobs: h.blobs, Documents: h.docs, Accounts: h.accounts,
		EventLog: audit.NewLog(h.pg.DB), Mailer: mailer, PKI: h.pki, Timestamper: ts,
		// As in production: the guarded client, the platform's own URL allowed.
		Revocation: h.pki.Revocation(envelope.RevocationFrom(&revocation.Fetcher{HTTPClient: outbound.NewClient(outbound.Config{
			Timeout: 10 * time.Second, AllowHosts: []string{ln.Addr().String()}, MaxRedirects: 3,
		})}, h.pki.Root())),
		PublicURL: h.base, TokenKey: key, Log: log, Now: h.clock.Now,
		Publisher: h.hooks, IdentityProviders: providers,
	})
	if err != nil {
		return fail(err)
	}

	e, err := httpapi.New(httpapi.Deps{
		Log: log, Registry: prometheus.NewRegistry(), Accounts: h.accounts,
		Mount: []func(*echo.Echo, *echo.Group){
			func(e *echo.Echo, _ *echo.Group) {
				ph := echo.WrapHandler(h.pki.Handler())
				e.GET("/pki/*", ph)
				e.POST("/pki/ocsp", ph)
				e.POST("/tsa", echo.WrapHandler(tsaSrv))
			},
			httpapi.DocumentRoutes(h.docs), httpapi.EnvelopeRoutes(h.svc), httpapi.SignerRoutes(h.svc),
		},
	})
	if err != nil {
		return fail(err)
	}
	h.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e}}
	h.srv.Start()
	defer h.srv.Close()

	redisOpt := asynq.RedisClientOpt{Addr: h.redis.Addr, DB: h.redis.DB}
	w := jobs.NewWorker(h.pg.DB, redisOpt, jobs.WorkerConfig{Concurrency: 4, Logger: log, Registerer: prometheus.NewRegistry()})
	h.svc.RegisterTasks(w)
	if err := w.Start(); err != nil {
		return fail(err)
	}
	defer w.Shutdown()
	qc := asynq.NewClient(redisOpt)
	defer qc.Close()
	disp := jobs.NewDispatcher(h.pg.DB, h.outbox, qc, jobs.DispatcherConfig{}, log)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(dctx); close(done) }()
	defer func() { stop(); <-done }()
	return m.Run()
}

// --- HTTP helpers -----------------------------------------------------------

type client struct {
	t     *testing.T
	key   string
	scope account.Scope
}

func newClient(t *testing.T) *client {
	t.Helper()
	ctx := context.Background()
	a, err := h.accounts.CreateAccount(ctx, "Acme "+t.Name(), "owner@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := h.accounts.CreateKey(ctx, a.ID, account.Test, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, key: secret, scope: account.Scope{AccountID: a.ID, Environment: account.Test}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %d %s: %v", r.status, r.body, err)
	}
	return m
}

func do(t *testing.T, key, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		raw, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("User-Agent", "vellum-test/1.0 ("+t.Name()+")")
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	return do(c.t, c.key, method, path, body)
}

// upload sends a PDF as Certyneo's quickstart does (multipart "file").
func (c *client) upload(name string, pdf []byte) string {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(pdf)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := httpClient(c.t).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b)
	}
	var d struct{ ID string }
	_ = json.Unmarshal(b, &d)
	return d.ID
}

// samplePDF is a real multi-page PDF with some text.
func samplePDF(title string, pages int) []byte {
	d := pdfreport.New(title)
	for p := 0; p < pages; p++ {
		d.Title(fmt.Sprintf("%s, page %d", title, p+1))
		for i := 0; i < 60; i++ {
			d.Para(fmt.Sprintf("Clause %d.%d: the parties agree to the terms set out here.", p+1, i+1))
		}
	}
	b, err := d.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}

// waitStatus polls the envelope until it reaches status.
func (c *client) waitStatus(id, status string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		r := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil)
		m := r.json(c.t)
		if m["status"] == status {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("envelope %s stayed %v, want %s", id, m["status"], status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signURLOf waits until the recipient with email has a signUrl and returns
// its token.
func (c *client) tokenOf(id, email string) string {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := c.do(http.MethodGet, "/api/v1/envelopes/"+id, nil).json(c.t)
		for _, r := range m["recipients"].([]any) {
			rm := r.(map[string]any)
			if rm["email"] == email {
				if u, _ := rm["signUrl"].(string); u != "" {
					return u[strings.LastIndex(u, "/s/")+3:]
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no signUrl for %s in %s", email, id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func doH(t *testing.T, key, method, path string, body any, headers map[string]string) response {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
