package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// privatePostgres is a PostgreSQL server of this test alone, in a temporary
// directory, so the test can stop it (never the shared one). It runs as
// the postgres user when the test runs as root, as initdb requires.
type privatePostgres struct {
	dir, url string
}

func (p *privatePostgres) cmd(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "vellum-private-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	port := freePort(t)
	p := &privatePostgres{dir: filepath.Join(dir, "data"),
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", port)}
	if out, err := p.cmd("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb (PostgreSQL server binaries on PATH): %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	if out, err := p.cmd("pg_ctl", "-D", p.dir, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = p.cmd("pg_ctl", "-D", p.dir, "-m", "immediate", "stop").Run() })
	return p
}

func (p *privatePostgres) stop(t *testing.T) {
	t.Helper()
	if out, err := p.cmd("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

// TestOutage_PostgreSQLDownAnswers503WithRetryAfter stops this test's own
// PostgreSQL under a running server.
func TestOutage_PostgreSQLDownAnswers503WithRetryAfter(t *testing.T) {
	pg := startPrivatePostgres(t)
	ctx := context.Background()
	database, err := db.Open(ctx, pg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer database.Close()
	if _, err := database.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	accounts := account.NewService(database)
	a, err := accounts.CreateAccount(ctx, "Outage", "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := accounts.CreateKey(ctx, a.ID, account.Test, "k")
	if err != nil {
		t.Fatal(err)
	}
	e, err := httpapi.New(httpapi.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), Accounts: accounts,
		Idempotency: idempotency.NewStore(database),
		Mount:       []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(accounts)},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	s := &testServer{Server: hs}
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", key: key}); r.status != http.StatusOK {
		t.Fatalf("before the outage: %d %s", r.status, r.body)
	}
	pg.stop(t)
	for _, c := range []call{
		{method: http.MethodGet, path: "/api/v1/keys", key: key},
		{method: http.MethodPost, path: "/api/v1/keys", key: key, contentType: "application/json", body: jsonBody(`{"name":"x"}`),
			header: map[string]string{"Idempotency-Key": "during-outage"}},
	} {
		r := s.do(t, c)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.problem(t).Code != "service_unavailable" {
			t.Errorf("%s %s with PostgreSQL down: %d Retry-After %q %s", c.method, c.path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
}

// TestOutage_RedisDown stops this test's own Redis under a running server:
// the rate limiter fails open (requests still served) and /readyz answers
// 503 with Retry-After.
func TestOutage_RedisDown(t *testing.T) {
	rdb, kill := startPrivateRedis(t)
	e, err := httpapi.New(httpapi.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Redis: rdb, RateLimits: httpapi.RateLimits{PerKey: httpapi.RateLimit{PerMinute: 1000, Burst: 1000}},
		Ready: map[string]httpapi.Pinger{"redis": redisPinger{rdb}},
		Mount: []func(*echo.Echo, *echo.Group){httpapi.KeyRoutes(env.accounts)},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	s := &testServer{Server: hs}
	tn := newTenant(t)
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", key: tn.test}); r.status != http.StatusOK || r.header.Get("RateLimit") == "" {
		t.Fatalf("before the outage: %d %v", r.status, r.header)
	}
	kill()
	if r := s.do(t, call{method: http.MethodGet, path: "/api/v1/keys", key: tn.test}); r.status != http.StatusOK {
		t.Errorf("API with Redis down: %d %s; the rate limiter fails open", r.status, r.body)
	}
	r := s.do(t, call{method: http.MethodGet, path: "/readyz"})
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("/readyz with Redis down: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
}

// startPrivateRedis runs a redis-server of this test alone on a free port
// (never the shared one is stopped or flushed) and returns a client and a
// function that kills the server.
func startPrivateRedis(t *testing.T) (*redis.Client, func()) {
	t.Helper()
	port := freePort(t)
	srv := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { _ = srv.Process.Kill(); _ = srv.Wait() }) }
	t.Cleanup(kill)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	for deadline := time.Now().Add(30 * time.Second); rdb.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("private redis-server did not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return rdb, kill
}

type redisPinger struct{ c *redis.Client }

func (p redisPinger) Ping(ctx context.Context) error { return p.c.Ping(ctx).Err() }

// TestReadyz_DrainingAnswers503WhileServing: after SIGTERM serve reports
// not ready, so a load balancer stops sending, while it still answers.
func TestReadyz_DrainingAnswers503WhileServing(t *testing.T) {
	var draining atomic.Bool
	e, err := httpapi.New(httpapi.Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
		Accounts: account.NewService(nil), Draining: draining.Load,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	defer hs.Close()
	s := &testServer{Server: hs}
	if r := s.do(t, call{method: http.MethodGet, path: "/readyz"}); r.status != http.StatusOK {
		t.Fatalf("before draining: %d %s", r.status, r.body)
	}
	draining.Store(true)
	r := s.do(t, call{method: http.MethodGet, path: "/readyz"})
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"draining"`) || r.header.Get("Retry-After") == "" {
		t.Fatalf("draining: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := s.do(t, call{method: http.MethodGet, path: "/healthz"}); r.status != http.StatusOK {
		t.Fatalf("draining /healthz: %d", r.status)
	}
}
