package remsig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/remsig"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pinpage"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/testenv"
)

// env is the package's real services.
var env struct {
	svc      *testenv.Services
	ca       *pki.PKI
	accounts *account.Service
	persons  *person.Service
	batches  *batch.Service
	server   *httptest.Server
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	if env.svc, err = testenv.StartServices(ctx, "remsig"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.svc.Close()
	dir, err := os.MkdirTemp("", "vellum-remsig-pki-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if env.ca, err = pki.LoadOrCreate(ctx, dir, "http://127.0.0.1:9", pki.WithStore(pki.NewDBStore(env.svc.PG.DB))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.accounts = account.NewService(env.svc.PG.DB)
	kek, _ := person.NewKEKString()
	rec, _ := person.NewKEKString()
	k1, err := person.ParseKEK(kek)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k2, _ := person.ParseKEK(rec)
	if env.persons, err = person.NewService(env.svc.PG.DB, env.ca, &person.Keyring{KEK: k1, Recovery: k2},
		person.Config{Argon2: person.Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	blobs, err := blob.NewFSStore(filepath.Join(dir, "blobs"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.batches = batch.NewService(batch.Deps{DB: env.svc.PG.DB, Blobs: blobs, Outbox: jobs.NewOutbox(env.svc.PG.DB),
		Persons: env.persons, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e, err := httpapi.New(httpapi.Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Mount: []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(env.accounts),
			remsig.Routes(remsig.Deps{Accounts: env.accounts, Persons: env.persons, Batches: env.batches,
				Requests: certrequest.NewService(env.svc.PG.DB, env.persons, certrequest.PlatformCA{Persons: env.persons}), PublicURL: "http://vellum.localhost"}),
			pinpage.Routes(env.batches, env.persons, nil)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env.server = httptest.NewServer(e)
	defer env.server.Close()
	return m.Run()
}

// tenant is an account with an all-roles key.
type tenant struct {
	scope  account.Scope
	key    *account.Key
	secret string
}

func newTenant(t testing.TB) *tenant {
	t.Helper()
	ctx := context.Background()
	a, err := env.accounts.CreateAccount(ctx, "Tenant "+t.Name(), "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := env.accounts.CreateKey(ctx, a.ID, account.Test, "remsig")
	if err != nil {
		t.Fatal(err)
	}
	return &tenant{scope: k.Scope(), key: k, secret: secret}
}

// keyWith creates another key of the tenant with roles.
func (tn *tenant) keyWith(t testing.TB, roles ...account.Role) (id, secret string) {
	t.Helper()
	k, s, err := env.accounts.CreateKeyIn(context.Background(), tn.scope, "roles", roles)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID, s
}

var seq atomic.Int64

// person creates a person with an issued certificate under pin.
func (tn *tenant) person(t testing.TB, pin string) (*person.Person, *person.Certificate) {
	t.Helper()
	ctx := context.Background()
	n := seq.Add(1)
	p, err := env.persons.Create(ctx, tn.scope, person.CreateInput{UniqueID: fmt.Sprintf("person%d@uni.localhost", n),
		Email: fmt.Sprintf("person.%d.%d@mail.localhost", n, time.Now().UnixNano()), Name: "Anna White"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := env.persons.IssueCertificate(ctx, tn.scope, p.ID, person.IssueInput{PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends a request with Basic credentials user:pass (none when user
// is empty).
func call(t testing.TB, method, path, user, pass, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if !strings.HasPrefix(path, "/api/v1/") {
		checkContract(t, method, env.server.URL+path, resp.StatusCode, resp.Header, raw)
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
		checkOperationID(t, r)
	}
	return r
}

// checkOperationID asserts the Operation-Id header is an integer equal to
// the body's operationId.
func checkOperationID(t testing.TB, r response) {
	t.Helper()
	h := r.header.Get("Operation-Id")
	got, ok := r.body["operationId"].(float64)
	if h == "" || !ok || fmt.Sprintf("%.0f", got) != h {
		t.Fatalf("Operation-Id %q and operationId %v differ or are missing: %s", h, r.body["operationId"], r.raw)
	}
}
