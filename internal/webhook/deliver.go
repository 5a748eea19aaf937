package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/pkg/webhookverify"
)

// maxRetryAfter bounds a receiver's Retry-After: longer than the longest
// scheduled delay is not honoured further.
const maxRetryAfter = 10 * time.Hour

// maxErrorText bounds the error text logged per attempt.
const maxErrorText = 1024

// Deliverer makes delivery attempts: the handler of TaskDeliver tasks.
type Deliverer struct {
	db       *db.DB
	outbox   *jobs.Outbox
	cfg      Config
	client   *http.Client
	notifier Notifier
	log      *slog.Logger
	now      func() time.Time

	mu       sync.Mutex
	inFlight map[string]int          // endpoint id → attempts running in this process
	runners  map[string]*batchRunner // endpoint id → its batch running in this process
}

// NewDeliverer returns the deliverer. notifier may be nil: disabled
// endpoints are then only logged.
func NewDeliverer(database *db.DB, outbox *jobs.Outbox, cfg Config, notifier Notifier, log *slog.Logger) *Deliverer {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	return &Deliverer{
		db: database, outbox: outbox, cfg: cfg, client: newClient(cfg), notifier: notifier, log: log,
		now: func() time.Time { return time.Now().UTC() }, inFlight: map[string]int{},
		runners: map[string]*batchRunner{},
	}
}

// newClient builds the HTTP client every attempt uses: the outbound guard
// on every dial, no redirects (a redirect is an answer, not a 2xx), and an
// overall timeout. Bodies are read only up to what an attempt records.
func newClient(cfg Config) *http.Client {
	return outbound.NewClient(outbound.Config{
		Timeout: cfg.Timeout, AllowPrivate: cfg.AllowPrivate, RootCAs: cfg.RootCAs,
		MaxIdleConnsPerHost: 64,
	})
}

// work is everything one attempt needs, read in one query.
type work struct {
	Delivery
	URL                     string
	Enabled                 bool
	Secret                  string
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	FailingSince            *time.Time
	AccountID               string
	Environment             string
	Payload                 []byte
	// HasEarlier says an earlier message about the same subject to the
	// same endpoint still waits for its first attempt.
	HasEarlier bool
}

// outcome is what an attempt produced.
type outcome struct {
	started    time.Time
	duration   time.Duration
	status     int // 0: no response
	body       string
	err        string
	retryAfter time.Duration
}

func (o outcome) ok() bool { return o.status >= 200 && o.status < 300 }

// Deliver is the TaskDeliver handler. A task of an endpoint sends its due
// first attempts in batches (see deliverBatch); a task of one delivery
// makes one attempt of it (retries, manual retries, test events). It is
// idempotent: a task whose generation is no longer the delivery's (a
// manual retry replaced it, or it already ran) does nothing, and the
// attempt's bookkeeping commits together with the task's completion.
func (d *Deliverer) Deliver(ctx context.Context, task jobs.Delivery) error {
	var p deliverPayload
	if err := json.Unmarshal(task.Payload, &p); err != nil {
		// Nothing will ever parse it; retrying cannot help.
		d.log.Error("webhook task with unreadable payload", "task_id", task.ID, "err", err)
		return nil
	}
	if p.DeliveryID == "" && p.EndpointID != "" {
		return d.deliverBatch(ctx, p.EndpointID)
	}
	w, err := d.load(ctx, p.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return nil // the endpoint was deleted, or the delivery pruned
	}
	if err != nil {
		return err
	}
	if w.Generation != p.Generation || w.Status != StatusPending {
		return nil
	}
	if !w.Enabled {
		return d.finishDisabled(ctx, w, p)
	}
	if !p.Manual && w.Attempts == 0 && w.HasEarlier {
		waited, err := d.waitForEarlier(ctx, w)
		if err != nil {
			return err
		}
		if !waited {
			return d.deferDelivery(ctx, w, p)
		}
	}
	if !d.acquire(w.EndpointID) {
		return d.deferDelivery(ctx, w, p)
	}
	out := d.attempt(ctx, w)
	d.release(w.EndpointID)
	return d.record(ctx, w, p, out)
}

// load reads the delivery, its endpoint and payload, and whether an
// earlier message must go first, in one round trip.
func (d *Deliverer) load(ctx context.Context, deliveryID string) (*work, error) {
	var rows []work
	err := d.db.Conn(ctx).Raw(`SELECT dl.*, ep.url, ep.enabled, ep.secret, ep.previous_secret,
			ep.previous_secret_expires_at, ep.failing_since, ep.account_id, ep.environment, ev.payload,
			(dl.ordering_key <> '' AND EXISTS (`+earlierSQL+`)) AS has_earlier
		FROM webhook_deliveries dl
		JOIN webhook_endpoints ep ON ep.id = dl.endpoint_id
		JOIN webhook_events ev ON ev.id = dl.event_id
		WHERE dl.id = ?`, StatusPending, d.now().Add(-d.cfg.OrderWait), deliveryID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load webhook delivery %s: %w", deliveryID, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("webhook delivery %s: %w", deliveryID, ErrNotFound)
	}
	return &rows[0], nil
}

// earlierUnsent reports whether an earlier message about the same subject
// to the same endpoint still waits for its first attempt. Only first
// attempts are ordered: a message in retry never holds back later ones, and
// past OrderWait a stuck predecessor is no longer waited for.
func (d *Deliverer) earlierUnsent(ctx context.Context, w *work) (bool, error) {
	var n int64
	err := d.db.Conn(ctx).Raw(`SELECT COUNT(*) FROM webhook_deliveries dl
		WHERE dl.id = ? AND EXISTS (`+earlierSQL+`)`,
		w.ID, StatusPending, d.now().Add(-d.cfg.OrderWait)).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("check order of webhook delivery %s: %w", w.ID, err)
	}
	return n > 0, nil
}

// earlierSQL finds, for the delivery dl, an earlier message of the same
// subject to the same endpoint not yet attempted, created after the
// second parameter (older ones are not waited for). Its parameters are
// the pending status and that cutoff.
const earlierSQL = `SELECT 1 FROM webhook_deliveries p
	WHERE p.endpoint_id = dl.endpoint_id AND p.ordering_key = dl.ordering_key
		AND p.status = ? AND p.attempts = 0
		AND (p.occurred_at < dl.occurred_at OR (p.occurred_at = dl.occurred_at AND p.id < dl.id))
		AND p.created_at > ?`

// orderPoll is how long a handler waits in place for an earlier message's
// first attempt before deferring through the queue. Waiting in place keeps
// the common case (a burst of events about one envelope) fast: a deferral
// goes through Asynq's scheduled set, which is polled only every 5 s.
const orderPoll = time.Second

// waitForEarlier waits up to orderPoll for earlier messages of the same
// subject to be attempted; false means they are still waiting.
func (d *Deliverer) waitForEarlier(ctx context.Context, w *work) (bool, error) {
	deadline := time.Now().Add(orderPoll)
	for {
		earlier, err := d.earlierUnsent(ctx, w)
		if err != nil || !earlier {
			return err == nil, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// acquire takes one of the endpoint's in-flight slots in this process.
func (d *Deliverer) acquire(endpointID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[endpointID] >= d.cfg.EndpointConcurrency {
		return false
	}
	d.inFlight[endpointID]++
	return true
}

func (d *Deliverer) release(endpointID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[endpointID]--; d.inFlight[endpointID] <= 0 {
		delete(d.inFlight, endpointID)
	}
}

// deferDelivery puts an attempt off without making it: the endpoint is
// busy or an earlier message goes first. The delay doubles with each
// deferral (from 50 ms up to the attempt timeout), so a stuck endpoint
// costs a bounded trickle of work, not a spin.
func (d *Deliverer) deferDelivery(ctx context.Context, w *work, p deliverPayload) error {
	delay := 50 * time.Millisecond << min(w.Deferrals, 10)
	delay = min(delay, d.cfg.Timeout)
	delay += time.Duration(rand.Int64N(int64(delay)/2 + 1))
	return d.complete(ctx, func(ctx context.Context) error {
		next := d.now().Add(delay)
		res := d.db.Conn(ctx).Model(&Delivery{}).Where("id = ? AND generation = ?", w.ID, p.Generation).
			Updates(map[string]any{"generation": p.Generation + 1, "deferrals": gorm.Expr("deferrals + 1"),
				"next_attempt_at": next, "updated_at": d.now()})
		if res.Error != nil {
			return fmt.Errorf("defer webhook delivery %s: %w", w.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // replaced meanwhile by a manual retry
		}
		return d.outbox.Enqueue(ctx, deliverTask(w.ID, p.Generation+1, p.Manual, next, d.cfg.Timeout))
	})
}

// finishDisabled fails a pending delivery of a disabled endpoint without an
// attempt; enabling the endpoint and retrying sends it.
func (d *Deliverer) finishDisabled(ctx context.Context, w *work, p deliverPayload) error {
	return d.complete(ctx, func(ctx context.Context) error {
		return d.db.Conn(ctx).Model(&Delivery{}).Where("id = ? AND generation = ?", w.ID, p.Generation).
			Updates(map[string]any{"status": StatusFailed, "next_attempt_at": nil,
				"last_error": "endpoint disabled", "updated_at": d.now()}).Error
	})
}

// complete runs fn exactly once with the task's completion.
func (d *Deliverer) complete(ctx context.Context, fn func(ctx context.Context) error) error {
	err := jobs.Complete(ctx, d.db, fn)
	if errors.Is(err, jobs.ErrAlreadyDone) {
		return nil
	}
	return err
}

// attempt makes the HTTP request and reads at most MaxResponseBody bytes
// of the answer.
func (d *Deliverer) attempt(ctx context.Context, w *work) (out outcome) {
	began := time.Now() // keeps the monotonic reading that UTC() strips
	out.started = began.UTC()
	defer func() { out.duration = time.Since(began) }()
	ts := out.started
	sig, err := signatureHeader(liveSecrets(w.Secret, w.PreviousSecret, w.PreviousSecretExpiresAt, ts), w.EventID, ts, w.Payload)
	if err != nil {
		out.err = err.Error()
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(w.Payload))
	if err != nil {
		out.err = "invalid URL: " + err.Error()
		return out
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", d.cfg.UserAgent)
	h.Set(webhookverify.HeaderID, w.EventID)
	h.Set(webhookverify.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(webhookverify.HeaderSignature, sig)
	resp, err := d.client.Do(req)
	if err != nil {
		out.err = attemptError(err, d.cfg.Timeout)
		return out
	}
	defer resp.Body.Close()
	out.status = resp.StatusCode
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(d.cfg.MaxResponseBody)))
	out.body = cleanText(b)
	if err != nil && !out.ok() {
		out.err = "reading response: " + attemptError(err, d.cfg.Timeout)
	}
	// Drain a little more so the connection can be reused; a receiver that
	// sends more is cut off.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return out
}

// attemptError describes a failed request without Go's wrapping noise.
func attemptError(err error, timeout time.Duration) string {
	switch {
	case outbound.Forbidden(err):
		return "refused: the URL resolves to a private, loopback or otherwise non-public address"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timeout: no complete response within %s", timeout)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return db.Clip(err.Error(), maxErrorText)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// cleanText makes a response body storable as text: valid UTF-8 without
// NUL bytes (PostgreSQL text refuses them).
func cleanText(b []byte) string {
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// retryDelay is the wait before automatic retry number n (from 0), with
// jitter, stretched to a receiver's Retry-After.
func (d *Deliverer) retryDelay(n int, retryAfter time.Duration) time.Duration {
	base := d.cfg.Schedule[n]
	if d.cfg.Jitter > 0 {
		base += time.Duration(rand.Float64() * d.cfg.Jitter * float64(base))
	}
	return max(base, retryAfter)
}

// record stores the attempt and decides what follows: delivered, another
// retry, or failed; and keeps the endpoint's failure record, disabling it
// on 410 Gone or after DisableAfter of continuous failure.
func (d *Deliverer) record(ctx context.Context, w *work, p deliverPayload, out outcome) error {
	now := d.now()
	trigger := TriggerScheduled
	if p.Manual {
		trigger = TriggerManual
	}
	var disabled *DisabledNotice
	err := d.complete(ctx, func(ctx context.Context) error {
		var cur Delivery
		q := d.db.Conn(ctx).Where("id = ?", w.ID)
		if err := d.db.ForUpdate(q, false).Take(&cur).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil // deleted with its endpoint while we were sending
			}
			return fmt.Errorf("lock webhook delivery %s: %w", w.ID, err)
		}
		number := cur.Attempts + 1
		a := Attempt{
			ID: ident.New("att"), DeliveryID: w.ID, EndpointID: w.EndpointID, Number: number, Trigger: trigger,
			URL: w.URL, StartedAt: out.started, DurationMS: int(out.duration / time.Millisecond),
			ResponseBody: out.body, Error: db.Clip(out.err, maxErrorText),
		}
		if out.status != 0 {
			a.ResponseStatus = &out.status
		}
		if err := d.db.Conn(ctx).Create(&a).Error; err != nil {
			return fmt.Errorf("record webhook attempt of %s: %w", w.ID, err)
		}
		if number > d.cfg.MaxAttemptsLogged {
			if err := d.db.Conn(ctx).Where("delivery_id = ? AND number <= ?", w.ID, number-d.cfg.MaxAttemptsLogged).
				Delete(&Attempt{}).Error; err != nil {
				return fmt.Errorf("trim webhook attempts of %s: %w", w.ID, err)
			}
		}
		upd := map[string]any{"attempts": number, "last_attempt_at": out.started, "updated_at": now,
			"last_error": a.Error, "last_response_status": a.ResponseStatus}
		gone := out.status == http.StatusGone
		var next *deliverPayload
		var runAt time.Time
		// Only the live schedule moves the delivery on; an attempt whose
		// schedule a manual retry replaced is just logged.
		if cur.Generation == p.Generation && cur.Status == StatusPending {
			switch {
			case out.ok():
				upd["status"], upd["next_attempt_at"] = StatusDelivered, nil
			case gone || cur.Retries >= len(d.cfg.Schedule):
				upd["status"], upd["next_attempt_at"] = StatusFailed, nil
			default:
				runAt = now.Add(d.retryDelay(cur.Retries, out.retryAfter))
				upd["status"], upd["next_attempt_at"] = StatusPending, runAt
				upd["retries"], upd["generation"] = cur.Retries+1, p.Generation+1
				next = &deliverPayload{DeliveryID: w.ID, Generation: p.Generation + 1}
			}
		}
		if err := d.db.Conn(ctx).Model(&Delivery{}).Where("id = ?", w.ID).Updates(upd).Error; err != nil {
			return fmt.Errorf("update webhook delivery %s: %w", w.ID, err)
		}
		if next != nil {
			if err := d.outbox.Enqueue(ctx, deliverTask(w.ID, next.Generation, false, runAt, d.cfg.Timeout)); err != nil {
				return err
			}
		}
		var err error
		disabled, err = d.trackHealth(ctx, w, out, now)
		return err
	})
	if err != nil {
		return err
	}
	if disabled != nil {
		d.log.Warn("webhook endpoint disabled", "endpoint_id", w.EndpointID, "account_id", w.AccountID, "reason", disabled.Reason)
	}
	return nil
}

// trackHealth updates the endpoint's failure record. It writes only when
// something changes, so a healthy endpoint's row is not a hot spot.
func (d *Deliverer) trackHealth(ctx context.Context, w *work, out outcome, now time.Time) (*DisabledNotice, error) {
	conn := d.db.Conn(ctx).Model(&Endpoint{})
	if out.ok() {
		if w.FailingSince == nil {
			return nil, nil
		}
		err := conn.Where("id = ? AND failing_since IS NOT NULL", w.EndpointID).Update("failing_since", nil).Error
		if err != nil {
			return nil, fmt.Errorf("clear webhook endpoint %s failures: %w", w.EndpointID, err)
		}
		return nil, nil
	}
	reason := ""
	switch {
	case out.status == http.StatusGone:
		reason = "the endpoint answered 410 Gone"
	case w.FailingSince != nil && now.Sub(*w.FailingSince) >= d.cfg.DisableAfter:
		reason = fmt.Sprintf("every delivery attempt has failed since %s", w.FailingSince.UTC().Format(time.RFC3339))
	}
	if reason == "" {
		if w.FailingSince != nil {
			return nil, nil
		}
		err := d.db.Conn(ctx).Model(&Endpoint{}).Where("id = ? AND failing_since IS NULL", w.EndpointID).
			Update("failing_since", out.started).Error
		if err != nil {
			return nil, fmt.Errorf("record webhook endpoint %s failure: %w", w.EndpointID, err)
		}
		return nil, nil
	}
	res := d.db.Conn(ctx).Model(&Endpoint{}).Where("id = ? AND enabled", w.EndpointID).Updates(map[string]any{
		"enabled": false, "disabled_reason": reason, "disabled_at": now,
		"version": gorm.Expr("version + 1"), "updated_at": now,
	})
	if res.Error != nil {
		return nil, fmt.Errorf("disable webhook endpoint %s: %w", w.EndpointID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, nil // someone else disabled it first
	}
	n := &DisabledNotice{AccountID: w.AccountID, Environment: w.Environment, EndpointID: w.EndpointID,
		URL: w.URL, Reason: reason, DisabledAt: now}
	err := d.outbox.Enqueue(ctx, jobs.Task{
		Type: TaskEndpointDisabled, Key: fmt.Sprintf("%s:%d", w.EndpointID, now.UnixNano()),
		Payload: n, Queue: jobs.QueueMail,
	})
	return n, err
}

// NotifyDisabled is the TaskEndpointDisabled handler: it tells the account
// by way of the Notifier. A send that fails is retried by the task.
func (d *Deliverer) NotifyDisabled(ctx context.Context, task jobs.Delivery) error {
	var n DisabledNotice
	if err := json.Unmarshal(task.Payload, &n); err != nil {
		d.log.Error("endpoint-disabled task with unreadable payload", "task_id", task.ID, "err", err)
		return nil
	}
	var email string
	if err := d.db.Conn(ctx).Raw("SELECT email FROM accounts WHERE id = ?", n.AccountID).Scan(&email).Error; err != nil {
		return fmt.Errorf("look up account %s: %w", n.AccountID, err)
	}
	n.AccountEmail = email
	if d.notifier == nil {
		d.log.Warn("webhook endpoint disabled; no notifier configured", "endpoint_id", n.EndpointID,
			"account_id", n.AccountID, "reason", n.Reason)
		return nil
	}
	if err := d.notifier.EndpointDisabled(ctx, n); err != nil {
		return fmt.Errorf("notify account %s of disabled endpoint %s: %w", n.AccountID, n.EndpointID, err)
	}
	return nil
}
