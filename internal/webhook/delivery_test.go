package webhook_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// verifyBoth checks a request with our package and the official Standard
// Webhooks library.
func verifyBoth(t *testing.T, secret string, g received) {
	t.Helper()
	v, err := webhookverify.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(g.body, g.header); err != nil {
		t.Errorf("webhookverify refuses delivery %s: %v", g.header.Get("webhook-id"), err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(g.body, g.header); err != nil {
		t.Errorf("the official library refuses delivery %s: %v", g.header.Get("webhook-id"), err)
	}
}

func TestDeliver_EnvelopeLifeArrivesInOrderSignedOverHTTPS(t *testing.T) {
	rc := newReceiver(t, true, nil)
	cfg := fastConfig()
	cfg.AllowHTTP = false // https only, as in production
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AddCert(rc.Certificate())
	h := start(t, cfg, 4, nil)
	ep := h.create(t, rc.URL+"/hooks?src=vellum")

	life := []string{webhook.EventDocumentUploaded, webhook.EventEnvelopeCreated, webhook.EventEnvelopeSent,
		webhook.EventRecipientViewed, webhook.EventRecipientSigned, webhook.EventEnvelopeCompleted}
	var ids []string
	// One transaction, as a state change and its events commit together.
	err := pg.DB.WithTx(context.Background(), func(ctx context.Context) error {
		for i, typ := range life {
			e := webhook.Event{ID: "evt_life_" + strconv.Itoa(i) + "_" + ep.ID, Type: typ, AccountID: h.scope.AccountID,
				Environment: "test", OccurredAt: time.Now().UTC(),
				Data: map[string]any{"id": "env_1", "envelopeId": "env_1", "status": typ}}
			ids = append(ids, e.ID)
			if err := h.svc.Publish(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range life {
		g := rc.wait(t, 20*time.Second)
		verifyBoth(t, ep.Secret, g)
		if got := g.header.Get("webhook-id"); got != ids[i] {
			t.Errorf("message %d: webhook-id %s, want %s (in order of occurrence)", i, got, ids[i])
		}
		body := mustJSON(t, g.body)
		if body["type"] != typ {
			t.Errorf("message %d: type %v, want %s", i, body["type"], typ)
		}
		if ts, _ := body["timestamp"].(string); ts == "" {
			t.Errorf("message %d: no timestamp in %s", i, g.body)
		}
		if data, _ := body["data"].(map[string]any); data["envelopeId"] != "env_1" {
			t.Errorf("message %d: data %v", i, body["data"])
		}
		if ct := g.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if ua := g.header.Get("User-Agent"); !strings.HasPrefix(ua, "Vellum-Webhooks/") {
			t.Errorf("User-Agent %q", ua)
		}
		if ts, _ := strconv.ParseInt(g.header.Get("webhook-timestamp"), 10, 64); time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("webhook-timestamp %s is not the attempt time", g.header.Get("webhook-timestamp"))
		}
	}
	eventually(t, 10*time.Second, "all deliveries DELIVERED", func() bool {
		for _, id := range ids {
			if h.deliveryOf(t, ep.ID, id).Status != webhook.StatusDelivered {
				return false
			}
		}
		return true
	})
}

func TestDeliver_FailingReceiverIsRetriedThenSucceeds(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("database is down"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := start(t, fastConfig(), 4, nil)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeCompleted, map[string]string{"id": "env_r"})

	var first string
	for i := 0; i < 3; i++ {
		g := rc.wait(t, 20*time.Second)
		verifyBoth(t, ep.Secret, g)
		if i == 0 {
			first = g.header.Get("webhook-id")
		} else if g.header.Get("webhook-id") != first {
			t.Fatalf("webhook-id changed across retries: %s then %s", first, g.header.Get("webhook-id"))
		}
	}
	eventually(t, 10*time.Second, "delivery DELIVERED", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusDelivered
	})
	d := h.deliveryOf(t, ep.ID, ev.ID)
	if len(d.Attempts) != 3 || d.Delivery.Attempts != 3 {
		t.Fatalf("%d attempts logged (%d counted), want 3", len(d.Attempts), d.Delivery.Attempts)
	}
	for i, a := range d.Attempts {
		want := 500
		if i == 2 {
			want = 204
		}
		if a.ResponseStatus == nil || *a.ResponseStatus != want || a.Number != i+1 {
			t.Errorf("attempt %d: %+v, want status %d", i+1, a, want)
		}
	}
	if d.Attempts[0].ResponseBody != "database is down" {
		t.Errorf("response body %q not captured", d.Attempts[0].ResponseBody)
	}
	var ep2 webhook.Endpoint
	_ = pg.DB.Conn(context.Background()).Where("id = ?", ep.ID).Take(&ep2).Error
	if ep2.FailingSince != nil {
		t.Errorf("failing_since %v not cleared by the success", ep2.FailingSince)
	}
}

func TestDeliver_GivesUpAfterTheScheduleAsFailed(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	cfg := fastConfig()
	h := start(t, cfg, 4, nil)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_f"})
	eventually(t, 30*time.Second, "delivery FAILED", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusFailed
	})
	d := h.deliveryOf(t, ep.ID, ev.ID)
	if want := 1 + len(cfg.Schedule); d.Delivery.Attempts != want || rc.count() != want {
		t.Fatalf("%d attempts (%d received), want exactly %d: one plus one per scheduled retry", d.Delivery.Attempts, rc.count(), want)
	}
	if d.NextAttemptAt != nil {
		t.Errorf("a FAILED delivery has a next attempt at %v", d.NextAttemptAt)
	}
}

func TestDeliver_HangingReceiverDoesNotDelayAnotherEndpoint(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hanging := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	fast := newReceiver(t, false, nil)
	cfg := fastConfig()
	cfg.Timeout = 5 * time.Second
	cfg.EndpointConcurrency = 2
	h := start(t, cfg, 4, nil)
	h.create(t, hanging.URL, webhook.EventEnvelopeSent)
	ok := h.create(t, fast.URL, webhook.EventEnvelopeCompleted)
	for i := 0; i < 12; i++ {
		h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_h" + strconv.Itoa(i)})
	}
	// Let the hanging endpoint's deliveries take what slots they can.
	hanging.wait(t, 10*time.Second)
	published := time.Now()
	ev := h.publish(t, webhook.EventEnvelopeCompleted, map[string]string{"id": "env_ok"})
	g := fast.wait(t, 4*time.Second)
	if g.header.Get("webhook-id") != ev.ID {
		t.Fatalf("got %s, want %s", g.header.Get("webhook-id"), ev.ID)
	}
	t.Logf("the healthy endpoint got its event %s after publication while another endpoint hung", time.Since(published).Round(time.Millisecond))
	verifyBoth(t, ok.Secret, g)
}

func TestDeliver_GoneDisablesEndpointAndNotifies(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	notes := &recordingNotifier{ch: make(chan webhook.DisabledNotice, 4)}
	h := start(t, fastConfig(), 4, notes)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeVoided, map[string]string{"id": "env_g"})
	select {
	case n := <-notes.ch:
		if n.EndpointID != ep.ID || n.AccountEmail != "owner@example.com" || !strings.Contains(n.Reason, "410") {
			t.Errorf("notice %+v", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no disabled notice")
	}
	got, err := h.svc.Get(context.Background(), h.scope, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.DisabledReason == "" {
		t.Fatalf("endpoint enabled=%v reason=%q after 410", got.Enabled, got.DisabledReason)
	}
	if d := h.deliveryOf(t, ep.ID, ev.ID); d.Status != webhook.StatusFailed || d.Delivery.Attempts != 1 {
		t.Fatalf("delivery %s after %d attempts, want FAILED after 1", d.Status, d.Delivery.Attempts)
	}
	// A disabled endpoint gets nothing more: publishing commits no delivery
	// (and so no task) for it, so nothing can be sent later either.
	ev2 := h.publish(t, webhook.EventEnvelopeVoided, map[string]string{"id": "env_g2"})
	var queued int64
	if err := pg.DB.Conn(context.Background()).Raw("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?",
		ep.ID, ev2.ID).Scan(&queued).Error; err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Fatalf("%d deliveries queued for a disabled endpoint", queued)
	}
	if rc.count() != 1 {
		t.Fatalf("disabled endpoint received %d requests", rc.count())
	}
}

func TestDeliver_DisablesAfterContinuousFailure(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	notes := &recordingNotifier{ch: make(chan webhook.DisabledNotice, 4)}
	cfg := fastConfig()
	cfg.Schedule = []time.Duration{time.Millisecond}
	h := start(t, cfg, 4, notes)
	ep := h.create(t, rc.URL)
	// Failing for six days already.
	if err := pg.DB.Conn(context.Background()).Exec("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?",
		time.Now().Add(-6*24*time.Hour), ep.ID).Error; err != nil {
		t.Fatal(err)
	}
	h.publish(t, webhook.EventEnvelopeExpired, map[string]string{"id": "env_x"})
	select {
	case n := <-notes.ch:
		if !strings.Contains(n.Reason, "failed since") {
			t.Errorf("reason %q", n.Reason)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("endpoint not disabled")
	}
}

func TestDeliver_RetryAfterIsHonoured(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h := start(t, fastConfig(), 4, nil)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_429"})
	rc.wait(t, 20*time.Second)
	eventually(t, 10*time.Second, "retry scheduled", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Delivery.Attempts == 1
	})
	d := h.deliveryOf(t, ep.ID, ev.ID)
	if d.Status != webhook.StatusPending || d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 110*time.Second {
		t.Fatalf("status %s next attempt %v: want PENDING about 120 s from now (Retry-After), not the 1 ms schedule", d.Status, d.NextAttemptAt)
	}
}

func TestDeliver_RedirectsAreNotFollowedAndBodiesAreCapped(t *testing.T) {
	target := newReceiver(t, false, nil)
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
	})
	h := start(t, fastConfig(), 4, nil)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_redir"})
	eventually(t, 20*time.Second, "delivered", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusDelivered
	})
	if target.count() != 0 {
		t.Fatal("the redirect was followed")
	}
	d := h.deliveryOf(t, ep.ID, ev.ID)
	if s := d.Attempts[0].ResponseStatus; s == nil || *s != http.StatusTemporaryRedirect {
		t.Fatalf("first attempt status %v, want 307 recorded as a failure", s)
	}
	if n := len(d.Attempts[1].ResponseBody); n != 4096 {
		t.Fatalf("captured %d bytes of the response body, want 4096", n)
	}
}

func TestDeliver_TimeoutIsAFailedAttempt(t *testing.T) {
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := fastConfig()
	cfg.Timeout = 500 * time.Millisecond
	h := start(t, cfg, 4, nil)
	ep := h.create(t, rc.URL)
	ev := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_slow"})
	eventually(t, 20*time.Second, "delivered on retry", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusDelivered
	})
	a := h.deliveryOf(t, ep.ID, ev.ID).Attempts[0]
	if a.ResponseStatus != nil || !strings.Contains(a.Error, "timeout") || a.DurationMS < 400 {
		t.Fatalf("first attempt %+v, want a timeout after about 500 ms", a)
	}
}

type recordingNotifier struct{ ch chan webhook.DisabledNotice }

func (r *recordingNotifier) EndpointDisabled(_ context.Context, n webhook.DisabledNotice) error {
	r.ch <- n
	return nil
}
