package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/internal/webhook"
)

var (
	pg  *testenv.Postgres
	rdb *testenv.Redis
)

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) != "" {
		runKillChild()
	}
	svc, err := testenv.StartServices(context.Background(), "webhook")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pg, rdb = svc.PG, svc.Redis
	code := m.Run()
	svc.Close()
	os.Exit(code)
}

// fastConfig retries at once, so retry tests take milliseconds.
func fastConfig() webhook.Config {
	return webhook.Config{
		Schedule:     []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		Jitter:       -1,
		Timeout:      2 * time.Second,
		AllowPrivate: true,
		AllowHTTP:    true,
	}
}

// harness is the webhook service with a real dispatcher and Asynq worker.
type harness struct {
	svc    *webhook.Service
	dlv    *webhook.Deliverer
	outbox *jobs.Outbox
	scope  account.Scope
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs a dispatcher and a worker over a Redis database emptied of
// earlier tests' tasks, for a new account.
func start(t testing.TB, cfg webhook.Config, concurrency int, notifier webhook.Notifier) *harness {
	t.Helper()
	h := newHarness(t, cfg, notifier)
	h.run(t, concurrency)
	return h
}

// newHarness clears earlier tests' unfinished tasks and builds the service
// and deliverer for a new account, without running anything yet.
func newHarness(t testing.TB, cfg webhook.Config, notifier webhook.Notifier) *harness {
	t.Helper()
	ctx := context.Background()
	// Earlier tests' unfinished tasks must not reach this test's worker.
	if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := pg.DB.Conn(ctx).Exec("UPDATE outbox_tasks SET status = 'done' WHERE status NOT IN ('done', 'failed')").Error; err != nil {
		t.Fatal(err)
	}
	acct, err := account.NewService(pg.DB).CreateAccount(ctx, "Webhooks "+t.Name(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{outbox: jobs.NewOutbox(pg.DB), scope: account.Scope{AccountID: acct.ID, Environment: account.Test}}
	h.svc = webhook.NewService(pg.DB, h.outbox, cfg)
	h.dlv = webhook.NewDeliverer(pg.DB, h.outbox, cfg, notifier, quiet)
	return h
}

// run starts the dispatcher and the Asynq worker until the test ends.
func (h *harness) run(t testing.TB, concurrency int) {
	t.Helper()
	ctx := context.Background()
	opt := asynq.RedisClientOpt{Addr: rdb.Addr, DB: rdb.DB}
	client := asynq.NewClient(opt)
	disp := jobs.NewDispatcher(pg.DB, h.outbox, client, jobs.DispatcherConfig{Interval: 50 * time.Millisecond, RelayAfter: 5 * time.Second}, quiet)
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	w := jobs.NewWorker(pg.DB, opt, jobs.WorkerConfig{Concurrency: concurrency, ShutdownTimeout: 3 * time.Second, Logger: quiet})
	w.Handle(webhook.TaskDeliver, h.dlv.Deliver)
	w.Handle(webhook.TaskEndpointDisabled, h.dlv.NotifyDisabled)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Shutdown()
		cancel()
		<-done
		_ = client.Close()
	})
}

// publish commits one event for the harness's account.
func (h *harness) publish(t testing.TB, typ string, data any) webhook.Event {
	t.Helper()
	e := webhook.Event{ID: ident.New("evt"), Type: typ, AccountID: h.scope.AccountID,
		Environment: string(h.scope.Environment), OccurredAt: time.Now().UTC(), Data: data}
	if err := pg.DB.WithTx(context.Background(), func(ctx context.Context) error {
		return h.svc.Publish(ctx, e)
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (h *harness) create(t testing.TB, url string, events ...string) *webhook.Endpoint {
	t.Helper()
	e, err := h.svc.Create(context.Background(), h.scope, webhook.CreateInput{URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// received is one request a receiver got.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a real HTTP server on loopback that records every request
// and answers with respond (200 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	arrived chan received
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t testing.TB, tls bool, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{arrived: make(chan received, 10000), respond: respond}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g := received{at: time.Now(), header: r.Header.Clone(), body: body}
		rc.mu.Lock()
		rc.got = append(rc.got, g)
		n := len(rc.got)
		rc.mu.Unlock()
		rc.arrived <- g
		if rc.respond != nil {
			rc.respond(n, w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if tls {
		rc.Server = httptest.NewTLSServer(h)
	} else {
		rc.Server = httptest.NewServer(h)
	}
	t.Cleanup(rc.Server.Close)
	return rc
}

// wait returns the next request or fails after d.
func (rc *receiver) wait(t testing.TB, d time.Duration) received {
	t.Helper()
	select {
	case g := <-rc.arrived:
		return g
	case <-time.After(d):
		t.Fatalf("no webhook arrived within %s", d)
		return received{}
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliveryOf returns the delivery of an endpoint for an event.
func (h *harness) deliveryOf(t testing.TB, endpointID, eventID string) *webhook.DeliveryDetail {
	t.Helper()
	var id string
	if err := pg.DB.Conn(context.Background()).Raw("SELECT id FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
		endpointID, eventID).Scan(&id).Error; err != nil || id == "" {
		t.Fatalf("no delivery of %s to %s (%v)", eventID, endpointID, err)
	}
	d, err := h.svc.GetDelivery(context.Background(), h.scope, endpointID, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return m
}
