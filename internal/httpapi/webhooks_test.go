package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// newWebhookServer is the router with the webhook routes, and a real
// dispatcher and Asynq worker delivering to loopback receivers.
func newWebhookServer(t *testing.T) *testServer {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := webhook.Config{AllowHTTP: true, AllowPrivate: true, Timeout: 2 * time.Second,
		Schedule: []time.Duration{time.Millisecond}, Jitter: -1}
	outbox := jobs.NewOutbox(env.pg.DB)
	hooks := webhook.NewService(env.pg.DB, outbox, cfg)
	opt := asynq.RedisClientOpt{Addr: env.redis.Addr, DB: env.redis.DB}
	client := asynq.NewClient(opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.NewDispatcher(env.pg.DB, outbox, client, jobs.DispatcherConfig{Interval: 50 * time.Millisecond}, quiet).Run(ctx)
	}()
	w := jobs.NewWorker(env.pg.DB, opt, jobs.WorkerConfig{Concurrency: 4, ShutdownTimeout: 3 * time.Second, Logger: quiet})
	dl := webhook.NewDeliverer(env.pg.DB, outbox, cfg, nil, quiet)
	w.Handle(webhook.TaskDeliver, dl.Deliver)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	e, err := httpapi.New(httpapi.Deps{
		Log: quiet, Registry: prometheus.NewRegistry(), Accounts: env.accounts,
		Idempotency: idempotency.NewStore(env.pg.DB),
		Mount:       []func(*echo.Echo, *echo.Group){httpapi.WebhookRoutes(hooks)},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(e)
	t.Cleanup(func() {
		s.Close()
		w.Shutdown()
		cancel()
		<-done
		_ = client.Close()
	})
	return &testServer{Server: s}
}

type webhookJSON struct {
	ID                      string   `json:"id"`
	URL                     string   `json:"url"`
	Events                  []string `json:"events"`
	Enabled                 bool     `json:"enabled"`
	Secret                  string   `json:"secret"`
	PreviousSecretExpiresAt *string  `json:"previousSecretExpiresAt"`
}

type deliveryJSON struct {
	ID                 string `json:"id"`
	EventID            string `json:"eventId"`
	EventType          string `json:"eventType"`
	Status             string `json:"status"`
	Attempts           int    `json:"attempts"`
	LastResponseStatus *int   `json:"lastResponseStatus"`
	AttemptLog         []struct {
		Number         int    `json:"number"`
		ResponseStatus *int   `json:"responseStatus"`
		ResponseBody   string `json:"responseBody"`
		DurationMs     int    `json:"durationMs"`
	} `json:"attemptLog"`
	Payload map[string]any `json:"payload"`
}

func TestWebhooks_API(t *testing.T) {
	got := make(chan *http.Request, 16)
	bodies := make(chan []byte, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		got <- r
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(recv.Close)
	s := newWebhookServer(t)
	tn := newTenant(t)
	jsonCT := "application/json"

	// create201
	r := s.do(t, call{method: "POST", path: "/api/v1/webhooks", key: tn.test, contentType: jsonCT,
		body: jsonBody(`{"url":"` + recv.URL + `/hook","description":"CRM"}`)})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var wh webhookJSON
	r.decode(t, &wh)
	if !strings.HasPrefix(wh.Secret, "whsec_") || len(wh.Events) != 1 || wh.Events[0] != "*" || !wh.Enabled {
		t.Fatalf("created %+v", wh)
	}
	if r.header.Get("Location") != "/api/v1/webhooks/"+wh.ID || r.header.Get("ETag") != `"v1"` {
		t.Fatalf("Location %q ETag %q", r.header.Get("Location"), r.header.Get("ETag"))
	}

	// create400 / create422
	for _, tc := range []struct {
		body   string
		status int
		param  string
	}{
		{`{"events":["envelope.sent"]}`, 400, "url"},
		{`{"url":"ftp://example.com/"}`, 400, "url"},
		{`{"url":"https://hooks.example.com/","events":["envelope.exploded"]}`, 422, "events[0]"},
		{`{"url":"https://hooks.example.com/","color":"red"}`, 400, "color"},
		{`{"url":42}`, 400, "url"},
	} {
		r := s.do(t, call{method: "POST", path: "/api/v1/webhooks", key: tn.test, contentType: jsonCT, body: jsonBody(tc.body)})
		p := r.problem(t)
		if r.status != tc.status || len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tc.param {
			t.Errorf("%s: %d %+v, want %d naming %s", tc.body, r.status, p, tc.status, tc.param)
		}
	}

	// list and get show no secret; the live world sees nothing
	r = s.do(t, call{method: "GET", path: "/api/v1/webhooks", key: tn.test})
	if r.status != 200 || strings.Contains(string(r.body), "whsec_") || !strings.Contains(string(r.body), `"total":1`) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID, key: tn.live})
	if r.status != 404 {
		t.Fatalf("live key sees a test endpoint: %d", r.status)
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID, key: tn.test, header: map[string]string{"If-None-Match": `"v1"`}})
	if r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.status)
	}

	// update200 / update412
	r = s.do(t, call{method: "PATCH", path: "/api/v1/webhooks/" + wh.ID, key: tn.test, contentType: jsonCT,
		header: map[string]string{"If-Match": `"v1"`}, body: jsonBody(`{"events":["envelope.completed","recipient.signed"]}`)})
	if r.status != 200 || r.header.Get("ETag") != `"v2"` || !strings.Contains(string(r.body), "recipient.signed") {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = s.do(t, call{method: "PATCH", path: "/api/v1/webhooks/" + wh.ID, key: tn.test, contentType: jsonCT,
		header: map[string]string{"If-Match": `"v1"`}, body: jsonBody(`{"enabled":false}`)})
	if r.status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", r.status)
	}

	// test event arrives signed
	r = s.do(t, call{method: "POST", path: "/api/v1/webhooks/" + wh.ID + "/test", key: tn.test})
	if r.status != http.StatusAccepted {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	var dl deliveryJSON
	r.decode(t, &dl)
	var req *http.Request
	var body []byte
	select {
	case req = <-got:
		body = <-bodies
	case <-time.After(20 * time.Second):
		t.Fatal("test event not delivered")
	}
	v, _ := webhookverify.New(wh.Secret)
	if err := v.Verify(body, req.Header); err != nil || req.Header.Get("webhook-id") != dl.EventID {
		t.Fatalf("test event: %v, webhook-id %s want %s", err, req.Header.Get("webhook-id"), dl.EventID)
	}

	// deliveries listed, and the detail shows the attempt
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID + "/deliveries/" + dl.ID, key: tn.test})
		r.decode(t, &dl)
		if dl.Status == "DELIVERED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if dl.Status != "DELIVERED" || len(dl.AttemptLog) != 1 || *dl.AttemptLog[0].ResponseStatus != 200 ||
		dl.AttemptLog[0].ResponseBody != `{"ok":true}` || dl.Payload["type"] != "webhook.test" {
		t.Fatalf("delivery detail %s", r.body)
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID + "/deliveries?status=DELIVERED&eventType=webhook.test", key: tn.test})
	if r.status != 200 || !strings.Contains(string(r.body), dl.ID) {
		t.Fatalf("deliveries: %d %s", r.status, r.body)
	}
	r = s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID + "/deliveries?status=LOST", key: tn.test})
	if r.status != 400 {
		t.Fatalf("bad status filter: %d", r.status)
	}

	// rotate: the next message verifies under the old and the new secret
	r = s.do(t, call{method: "POST", path: "/api/v1/webhooks/" + wh.ID + "/rotate-secret", key: tn.test})
	var rotated webhookJSON
	r.decode(t, &rotated)
	if r.status != 200 || rotated.Secret == wh.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}

	// manual retry resends the same message
	r = s.do(t, call{method: "POST", path: "/api/v1/webhooks/" + wh.ID + "/deliveries/" + dl.ID + "/retry", key: tn.test})
	if r.status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	select {
	case req = <-got:
		body = <-bodies
	case <-time.After(20 * time.Second):
		t.Fatal("retry not delivered")
	}
	for _, secret := range []string{wh.Secret, rotated.Secret} {
		v, _ := webhookverify.New(secret)
		if err := v.Verify(body, req.Header); err != nil {
			t.Errorf("after rotation, %s...: %v", secret[:10], err)
		}
	}
	if req.Header.Get("webhook-id") != dl.EventID {
		t.Fatalf("retry webhook-id %s, want %s", req.Header.Get("webhook-id"), dl.EventID)
	}

	// delete204, then 404 everywhere
	r = s.do(t, call{method: "DELETE", path: "/api/v1/webhooks/" + wh.ID, key: tn.test})
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, p := range []string{"", "/deliveries", "/deliveries/" + dl.ID} {
		if r := s.do(t, call{method: "GET", path: "/api/v1/webhooks/" + wh.ID + p, key: tn.test}); r.status != 404 {
			t.Errorf("GET %s after delete: %d", p, r.status)
		}
	}
}
