package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

func TestCreate_ValidatesAndNormalizes(t *testing.T) {
	h := start(t, fastConfig(), 1, nil)
	ctx := context.Background()
	e, err := h.svc.Create(ctx, h.scope, webhook.CreateInput{URL: "https://hooks.example.com/a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Events) != 1 || e.Events[0] != "*" || !e.Enabled {
		t.Fatalf("events %v enabled %v, want [*] and enabled", e.Events, e.Enabled)
	}
	key, err := webhookverify.DecodeSecret(e.Secret)
	if err != nil || len(key) < 24 || e.Secret[:6] != "whsec_" {
		t.Fatalf("secret %q: %d key bytes, %v", e.Secret, len(key), err)
	}
	e, err = h.svc.Create(ctx, h.scope, webhook.CreateInput{URL: "https://hooks.example.com/b",
		Events: []string{"envelope.completed", "envelope.completed", "envelope.created"}})
	if err != nil || len(e.Events) != 2 {
		t.Fatalf("events %v, %v: want duplicates removed", e.Events, err)
	}
	_, err = h.svc.Create(ctx, h.scope, webhook.CreateInput{URL: "ftp://x", Events: []string{"envelope.exploded"}})
	var fe webhook.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 2 || !errors.Is(err, webhook.ErrInvalid) {
		t.Fatalf("err %v, want two field errors (url, events[0])", err)
	}
}

func TestPublish_FansOutToMatchingEnabledEndpointsOfTheScopeOnly(t *testing.T) {
	h := start(t, fastConfig(), 1, nil)
	ctx := context.Background()
	all := h.create(t, "https://hooks.example.com/all")
	completed := h.create(t, "https://hooks.example.com/completed", "envelope.completed")
	sent := h.create(t, "https://hooks.example.com/sent", "envelope.sent")
	off := h.create(t, "https://hooks.example.com/off")
	f := false
	if _, err := h.svc.Update(ctx, h.scope, off.ID, webhook.Patch{Enabled: &f}, nil); err != nil {
		t.Fatal(err)
	}
	live := h.scope
	live.Environment = "live"
	if _, err := h.svc.Create(ctx, live, webhook.CreateInput{URL: "https://hooks.example.com/live"}); err != nil {
		t.Fatal(err)
	}
	ev := h.publish(t, webhook.EventEnvelopeCompleted, map[string]string{"id": "env_1"})
	var got []string
	if err := pg.DB.Conn(ctx).Raw("SELECT endpoint_id FROM webhook_deliveries WHERE event_id = ? ORDER BY endpoint_id", ev.ID).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	want := []string{all.ID, completed.ID}
	if all.ID > completed.ID {
		want = []string{completed.ID, all.ID}
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("deliveries to %v, want %v (not %s, disabled %s, or the live endpoint)", got, want, sent.ID, off.ID)
	}
	if err := h.svc.Publish(ctx, webhook.Event{ID: "evt_x", Type: "envelope.exploded", AccountID: h.scope.AccountID, Environment: "test"}); !errors.Is(err, webhook.ErrUnknownEvent) {
		t.Fatalf("unknown type: %v", err)
	}
	// An event nobody listens to writes nothing.
	if err := h.svc.Publish(ctx, webhook.Event{ID: "evt_unheard", Type: webhook.EventEnvelopeSent,
		AccountID: "acct_without_endpoints", Environment: "test", Data: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	var n int64
	_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM webhook_events WHERE id = 'evt_unheard'").Scan(&n).Error
	if n != 0 {
		t.Fatalf("%d event rows for an event without endpoints", n)
	}
}

func TestPublish_RollsBackWithTheCallersTransaction(t *testing.T) {
	h := start(t, fastConfig(), 1, nil)
	ctx := context.Background()
	h.create(t, "https://hooks.example.com/all")
	countTasks := func() (n int64) {
		_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE type = ?", webhook.TaskDeliver).Scan(&n).Error
		return n
	}
	tasksBefore := countTasks()
	boom := errors.New("state change failed")
	err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
		if err := h.svc.Publish(ctx, webhook.Event{ID: "evt_rollback", Type: webhook.EventEnvelopeSent,
			AccountID: h.scope.AccountID, Environment: "test", OccurredAt: time.Now(), Data: map[string]string{}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var n int64
	_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = 'evt_rollback'").Scan(&n).Error
	if n != 0 || countTasks() != tasksBefore {
		t.Fatalf("%d deliveries and %d tasks survived the rollback", n, countTasks()-tasksBefore)
	}
}

func TestRetryAndTestEvent(t *testing.T) {
	failing := true
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	cfg := fastConfig()
	cfg.Schedule = []time.Duration{time.Millisecond}
	h := start(t, cfg, 4, nil)
	ctx := context.Background()
	ep := h.create(t, rc.URL, "envelope.completed")
	ev := h.publish(t, webhook.EventEnvelopeCompleted, map[string]string{"id": "env_m"})
	eventually(t, 20*time.Second, "FAILED", func() bool { return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusFailed })
	before := rc.count()

	failing = false
	d, err := h.svc.Retry(ctx, h.scope, ep.ID, h.deliveryOf(t, ep.ID, ev.ID).ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != webhook.StatusPending {
		t.Fatalf("after Retry: %s", d.Status)
	}
	g := rc.wait(t, 20*time.Second)
	for rc.count() <= before {
		g = rc.wait(t, 20*time.Second)
	}
	if g.header.Get("webhook-id") != ev.ID {
		t.Fatalf("manual retry sent webhook-id %s, want the original %s", g.header.Get("webhook-id"), ev.ID)
	}
	eventually(t, 10*time.Second, "DELIVERED", func() bool { return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusDelivered })
	detail := h.deliveryOf(t, ep.ID, ev.ID)
	last := detail.Attempts[len(detail.Attempts)-1]
	if last.Trigger != webhook.TriggerManual || *last.ResponseStatus != 200 {
		t.Fatalf("last attempt %+v, want a manual 200", last)
	}

	// The test event goes to this endpoint although it subscribes only to
	// envelope.completed.
	td, err := h.svc.SendTest(ctx, h.scope, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	for {
		g = rc.wait(t, 20*time.Second)
		if g.header.Get("webhook-id") == td.EventID {
			break
		}
	}
	verifyBoth(t, ep.Secret, g)
	if body := mustJSON(t, g.body); body["type"] != webhook.EventTest {
		t.Fatalf("test event type %v", body["type"])
	}

	page, err := h.svc.ListDeliveries(ctx, h.scope, ep.ID, listing.Query{Limit: 10}, webhook.DeliveryFilter{})
	if err != nil || page.Total != 2 || len(page.Items) != 2 || page.Items[0].EventType != webhook.EventTest {
		t.Fatalf("deliveries %+v total %d, %v: want the test event first, then the retried one", page.Items, page.Total, err)
	}
	page, _ = h.svc.ListDeliveries(ctx, h.scope, ep.ID, listing.Query{Limit: 10}, webhook.DeliveryFilter{EventType: webhook.EventEnvelopeCompleted})
	if page.Total != 1 {
		t.Fatalf("filtered by event type: %d", page.Total)
	}

	// Disabled endpoints take neither.
	f := false
	if _, err := h.svc.Update(ctx, h.scope, ep.ID, webhook.Patch{Enabled: &f}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SendTest(ctx, h.scope, ep.ID); !errors.Is(err, webhook.ErrEndpointDisabled) {
		t.Fatalf("test to a disabled endpoint: %v", err)
	}
	if _, err := h.svc.Retry(ctx, h.scope, ep.ID, detail.ID); !errors.Is(err, webhook.ErrEndpointDisabled) {
		t.Fatalf("retry to a disabled endpoint: %v", err)
	}
}

func TestRotateSecret_SignsUnderBothForTheOverlap(t *testing.T) {
	rc := newReceiver(t, false, nil)
	h := start(t, fastConfig(), 4, nil)
	ctx := context.Background()
	ep := h.create(t, rc.URL)
	rotated, err := h.svc.RotateSecret(ctx, h.scope, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == ep.Secret || rotated.PreviousSecret != ep.Secret {
		t.Fatal("rotation did not replace the secret and keep the old one")
	}
	h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_rot"})
	g := rc.wait(t, 20*time.Second)
	verifyBoth(t, ep.Secret, g)      // receivers not yet switched
	verifyBoth(t, rotated.Secret, g) // receivers already switched
	if sigs, _ := webhookverify.ParseHeaders(g.header); len(sigs.Signatures) != 2 {
		t.Fatalf("%d signatures during the overlap, want 2", len(sigs.Signatures))
	}

	// After the overlap only the new secret signs.
	if err := pg.DB.Conn(ctx).Exec("UPDATE webhook_endpoints SET previous_secret_expires_at = ? WHERE id = ?",
		time.Now().Add(-time.Second), ep.ID).Error; err != nil {
		t.Fatal(err)
	}
	h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_rot2"})
	g = rc.wait(t, 20*time.Second)
	verifyBoth(t, rotated.Secret, g)
	old, _ := webhookverify.New(ep.Secret)
	if err := old.Verify(g.body, g.header); !errors.Is(err, webhookverify.ErrNoMatchingSignature) {
		t.Fatalf("the old secret still verifies after the overlap: %v", err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	h := start(t, fastConfig(), 1, nil)
	ctx := context.Background()
	ep := h.create(t, "https://hooks.example.com/u")
	u := "https://hooks.example.com/v"
	evs := []string{"envelope.sent"}
	got, err := h.svc.Update(ctx, h.scope, ep.ID, webhook.Patch{URL: &u, Events: &evs}, func(v int) bool { return v == ep.Version })
	if err != nil || got.URL != u || got.Events[0] != "envelope.sent" || got.Version != ep.Version+1 {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := h.svc.Update(ctx, h.scope, ep.ID, webhook.Patch{URL: &u}, func(v int) bool { return v == ep.Version }); !errors.Is(err, webhook.ErrVersionMismatch) {
		t.Fatalf("stale If-Match: %v", err)
	}
	other := h.scope
	other.AccountID = "acct_other"
	if _, err := h.svc.Get(ctx, other, ep.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("another account sees the endpoint: %v", err)
	}
	if err := h.svc.Delete(ctx, h.scope, ep.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Get(ctx, h.scope, ep.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestPrune_DropsOldLogsKeepsPending(t *testing.T) {
	rc := newReceiver(t, false, nil)
	h := start(t, fastConfig(), 4, nil)
	ctx := context.Background()
	ep := h.create(t, rc.URL)
	old := h.publish(t, webhook.EventEnvelopeSent, map[string]string{"id": "env_old"})
	eventually(t, 20*time.Second, "delivered", func() bool { return h.deliveryOf(t, ep.ID, old.ID).Status == webhook.StatusDelivered })
	longAgo := time.Now().Add(-31 * 24 * time.Hour)
	for _, q := range []string{
		"UPDATE webhook_deliveries SET created_at = ? WHERE event_id = ?",
		"UPDATE webhook_events SET created_at = ? WHERE id = ?",
		"UPDATE webhook_attempts SET started_at = ? WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE event_id = ?)",
	} {
		if err := pg.DB.Conn(ctx).Exec(q, longAgo, old.ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	// A pending delivery just as old stays: it is still being worked on.
	if err := pg.DB.Conn(ctx).Exec("INSERT INTO webhook_events (id, account_id, environment, type, payload, occurred_at, created_at) VALUES ('evt_pending_old', ?, 'test', 'envelope.sent', '{}', ?, ?)",
		h.scope.AccountID, longAgo, longAgo).Error; err != nil {
		t.Fatal(err)
	}
	if err := pg.DB.Conn(ctx).Exec("INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, occurred_at, status, created_at, updated_at) VALUES ('dlv_pending_old', ?, 'evt_pending_old', 'envelope.sent', ?, 'PENDING', ?, ?)",
		ep.ID, longAgo, longAgo, longAgo).Error; err != nil {
		t.Fatal(err)
	}
	n, err := h.dlv.Prune(ctx)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d rows, %v; want 3 (attempt, delivery, event)", n, err)
	}
	var left int64
	_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM webhook_deliveries WHERE id = 'dlv_pending_old'").Scan(&left).Error
	if left != 1 {
		t.Fatal("a pending delivery was pruned")
	}
}

func TestPublish_OneTaskPerEndpointAndTransactionDeliversEveryMessageInOrder(t *testing.T) {
	a, b := newReceiver(t, false, nil), newReceiver(t, false, nil)
	h := newHarness(t, fastConfig(), nil)
	ctx := context.Background()
	epA, epB := h.create(t, a.URL), h.create(t, b.URL)
	const n = 60
	var ids []string
	err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
		for i := 0; i < n; i++ {
			e := webhook.Event{ID: ident.New("evt"), Type: webhook.EventEnvelopeSent, AccountID: h.scope.AccountID,
				Environment: "test", OccurredAt: time.Now().UTC(),
				Data: map[string]string{"envelopeId": "env_" + strconv.Itoa(i%4), "id": "x"}}
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
	for _, ep := range []string{epA.ID, epB.ID} {
		var tasks int64
		_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE ?", webhook.TaskDeliver+":"+ep+":%").Scan(&tasks).Error
		if tasks != 1 {
			t.Fatalf("%d outbox tasks for endpoint %s, want one for the transaction", tasks, ep)
		}
	}
	h.run(t, 4)
	for _, rc := range []*receiver{a, b} {
		pos := map[string]int{}
		for i, id := range ids {
			pos[id] = i
		}
		last := map[string]int{}
		for i := 0; i < n; i++ {
			g := rc.wait(t, 20*time.Second)
			p, ok := pos[g.header.Get("webhook-id")]
			if !ok {
				t.Fatalf("unknown or repeated webhook-id %s", g.header.Get("webhook-id"))
			}
			delete(pos, g.header.Get("webhook-id"))
			subj := "env_" + strconv.Itoa(p%4)
			if prev, seen := last[subj]; seen && prev > p {
				t.Fatalf("message %d of %s arrived after message %d", p, subj, prev)
			}
			last[subj] = p
		}
	}
	eventually(t, 10*time.Second, "all DELIVERED with one attempt each", func() bool {
		var done int64
		_ = pg.DB.Conn(ctx).Raw(`SELECT COUNT(*) FROM webhook_deliveries dl WHERE dl.endpoint_id IN (?, ?)
			AND dl.status = ? AND dl.attempts = 1 AND dl.next_attempt_at IS NULL
			AND (SELECT COUNT(*) FROM webhook_attempts a WHERE a.delivery_id = dl.id) = 1`,
			epA.ID, epB.ID, webhook.StatusDelivered).Scan(&done).Error
		return done == 2*n
	})
}
