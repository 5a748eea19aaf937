package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
)

// First attempts go out in per-endpoint batches. Publish records the
// messages and one TaskDeliver task per endpoint and transaction (its key
// carries the endpoint and the transaction), so a transaction that
// publishes a hundred events costs one outbox row per endpoint, not a
// hundred. The task runs the endpoint's batch runner, which claims the
// endpoint's due first attempts in chunks (a lease in next_attempt_at,
// renewed while the chunk is sent),
// POSTs each message separately (Standard Webhooks is one message per
// request; in order per subject, concurrently across subjects up to
// EndpointConcurrency), and records each chunk in one transaction. Retries,
// manual retries and test events stay one task per message.
//
// No message is left without a task that will send it: a runner finishes
// its task only after checking, in the same transaction, that no first
// attempt of the endpoint is left; what is left (its time budget ran out,
// or another process holds a lease) gets a follow-up task. A task that
// finds a runner of its endpoint already busy in this process hands its
// messages over to it (the runner claims again before it ends) and
// finishes at once; should the process die, the runner's own unfinished
// task runs again and claims everything due.

// batchChunk is how many messages a runner claims at a time.
const batchChunk = 250

// batchRow is one claimed message.
type batchRow struct {
	ID          string
	EventID     string
	OrderingKey string
	Payload     []byte
}

// batchRunner is the state of an endpoint's running batch in this process.
type batchRunner struct {
	dirty bool // a handed-over task's messages may not be claimed yet
}

// batchTask is the task that sends an endpoint's due first attempts; key
// makes it unique (the publishing transaction, or a follow-up).
func batchTask(endpointID, key string, runAt time.Time, timeout time.Duration) jobs.Task {
	return jobs.Task{
		Type: TaskDeliver, Key: endpointID + ":" + key,
		Payload: deliverPayload{EndpointID: endpointID},
		Queue:   jobs.QueueWebhooks, RunAt: runAt,
		MaxRetry: 20,
		// A runner claims chunks for at most timeout and starts attempts
		// within timeout of a claim, each bounded by timeout.
		Timeout: 3*timeout + 30*time.Second,
	}
}

// batchLease is how long a chunk's claim lasts unrenewed. The runner
// renews it every batchLease/3 while it sends, so the chunk of a worker
// that died is free for another run within batchLease.
const batchLease = 10 * time.Second

// keepLeased renews the lease of a chunk's deliveries until stop is called,
// and stop returns the lease they hold then. A delivery whose lease is no
// longer this chunk's (it ran out and another run claimed it) is left to
// that run. A renewal that fails is tried again at the next tick.
func (d *Deliverer) keepLeased(ctx context.Context, rows []batchRow, lease time.Time) (stop func() time.Time) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(batchLease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			next := d.now().Add(batchLease).Truncate(time.Microsecond)
			rctx, cancel := context.WithTimeout(ctx, batchLease/3)
			res := d.db.Conn(rctx).Model(&Delivery{}).Where("id IN ? AND next_attempt_at = ?", ids, lease).
				Update("next_attempt_at", next)
			cancel()
			if res.Error == nil && res.RowsAffected > 0 {
				lease = next
			}
		}
	}()
	return func() time.Time { close(done); wg.Wait(); return lease }
}

// deliverBatch is the TaskDeliver handler for an endpoint's first attempts.
func (d *Deliverer) deliverBatch(ctx context.Context, endpointID string) error {
	d.mu.Lock()
	if r := d.runners[endpointID]; r != nil {
		r.dirty = true
		d.mu.Unlock()
		return nil // handed over: the runner claims again before it ends
	}
	r := &batchRunner{}
	d.runners[endpointID] = r
	d.mu.Unlock()
	done := func() {
		d.mu.Lock()
		delete(d.runners, endpointID)
		d.mu.Unlock()
	}

	deadline := time.Now().Add(d.cfg.Timeout)
	expired := false
	for {
		n, err := d.runChunk(ctx, endpointID)
		if err != nil {
			done()
			return err // the task stays open and runs again
		}
		if expired = time.Now().After(deadline); expired {
			done()
			break
		}
		if n > 0 {
			continue
		}
		d.mu.Lock()
		if r.dirty {
			r.dirty = false
			d.mu.Unlock()
			continue
		}
		delete(d.runners, endpointID)
		d.mu.Unlock()
		break
	}
	return d.complete(ctx, func(ctx context.Context) error {
		// The earliest of the column itself rather than MIN(): an aggregate
		// is NULL when nothing is left (the normal case) and loses the
		// column's type on SQLite, and either failed the scan.
		var left []time.Time
		err := d.db.Conn(ctx).Model(&Delivery{}).
			Where("endpoint_id = ? AND status = ? AND attempts = 0 AND generation = 1 AND next_attempt_at IS NOT NULL",
				endpointID, StatusPending).
			Order("next_attempt_at").Limit(1).Pluck("next_attempt_at", &left).Error
		if err != nil {
			return fmt.Errorf("check webhook endpoint %s for unsent messages: %w", endpointID, err)
		}
		if len(left) == 0 {
			return nil
		}
		next := left[0]
		// Due messages left although the runner had time: another process
		// holds them (or an earlier one of their subject) right now, so
		// look again in a while rather than spin.
		runAt := time.Time{}
		switch now := d.now(); {
		case next.After(now):
			runAt = next
		case !expired:
			runAt = now.Add(time.Second)
		}
		return d.outbox.Enqueue(ctx, batchTask(endpointID, ident.New("b"), runAt, d.cfg.Timeout))
	})
}

// runChunk claims, sends and records one chunk of the endpoint's due first
// attempts, and reports how many it claimed.
func (d *Deliverer) runChunk(ctx context.Context, endpointID string) (int, error) {
	var ep Endpoint
	if err := d.db.Conn(ctx).Where("id = ?", endpointID).Take(&ep).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return 0, nil // deleted, with its deliveries
		}
		return 0, fmt.Errorf("load webhook endpoint %s: %w", endpointID, err)
	}
	now := d.now()
	if !ep.Enabled {
		// Fail what is due without an attempt; enabling the endpoint and
		// retrying sends it.
		err := d.db.Conn(ctx).Model(&Delivery{}).
			Where("endpoint_id = ? AND status = ? AND attempts = 0 AND generation = 1 AND next_attempt_at <= ?",
				endpointID, StatusPending, now).
			Updates(map[string]any{"status": StatusFailed, "next_attempt_at": nil,
				"last_error": "endpoint disabled", "updated_at": now}).Error
		return 0, err
	}
	lease := now.Add(batchLease).Truncate(time.Microsecond)
	rows, err := d.claim(ctx, endpointID, now, lease)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	stop := d.keepLeased(ctx, rows, lease)
	w := &work{URL: ep.URL, Secret: ep.Secret, PreviousSecret: ep.PreviousSecret,
		PreviousSecretExpiresAt: ep.PreviousSecretExpiresAt, FailingSince: ep.FailingSince,
		AccountID: ep.AccountID, Environment: string(ep.Environment)}
	w.EndpointID = endpointID
	outs := d.sendChunk(ctx, w, rows, time.Now().Add(d.cfg.Timeout))
	lease = stop()
	// Bookkeeping must survive a handler that ran out its own deadline.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.recordChunk(bctx, w, rows, outs, lease); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// claim leases up to batchChunk due first attempts of the endpoint, oldest
// first, skipping a message while an earlier one of its subject is leased
// elsewhere (it follows once that one was attempted).
func (d *Deliverer) claim(ctx context.Context, endpointID string, now, lease time.Time) ([]batchRow, error) {
	var rows []batchRow
	err := d.db.WithTx(ctx, func(ctx context.Context) error {
		q := `SELECT dl.id FROM webhook_deliveries dl
			WHERE dl.endpoint_id = ? AND dl.status = ? AND dl.attempts = 0 AND dl.generation = 1
				AND dl.next_attempt_at <= ?
				AND NOT (dl.ordering_key <> '' AND EXISTS (SELECT 1 FROM webhook_deliveries p
					WHERE p.endpoint_id = dl.endpoint_id AND p.ordering_key = dl.ordering_key
						AND p.status = ? AND p.attempts = 0 AND p.generation = 1 AND p.next_attempt_at > ?
						AND (p.occurred_at < dl.occurred_at OR (p.occurred_at = dl.occurred_at AND p.id < dl.id))
						AND p.created_at > ?))
			ORDER BY dl.occurred_at, dl.id LIMIT ?` + d.db.LockSQL(true)
		var ids []string
		if err := d.db.Conn(ctx).Raw(q, endpointID, StatusPending, now, StatusPending, now,
			now.Add(-d.cfg.OrderWait), batchChunk).Scan(&ids).Error; err != nil {
			return fmt.Errorf("claim webhook deliveries of %s: %w", endpointID, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := d.db.Conn(ctx).Model(&Delivery{}).Where("id IN ?", ids).
			Updates(map[string]any{"next_attempt_at": lease, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("lease webhook deliveries of %s: %w", endpointID, err)
		}
		return d.db.Conn(ctx).Raw(`SELECT dl.id, dl.event_id, dl.ordering_key, ev.payload
			FROM webhook_deliveries dl JOIN webhook_events ev ON ev.id = dl.event_id
			WHERE dl.id IN ? ORDER BY dl.occurred_at, dl.id`, ids).Scan(&rows).Error
	})
	return rows, err
}

// sendChunk makes the chunk's attempts: messages of one subject one after
// another in order, subjects concurrently up to EndpointConcurrency. An
// attempt not started by deadline is not made (its outcome stays nil).
func (d *Deliverer) sendChunk(ctx context.Context, w *work, rows []batchRow, deadline time.Time) []*outcome {
	outs := make([]*outcome, len(rows))
	var groups [][]int
	byKey := map[string]int{}
	for i, r := range rows {
		if r.OrderingKey == "" {
			groups = append(groups, []int{i})
			continue
		}
		g, ok := byKey[r.OrderingKey]
		if !ok {
			g = len(groups)
			byKey[r.OrderingKey] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	sem := make(chan struct{}, d.cfg.EndpointConcurrency)
	var wg sync.WaitGroup
	for _, g := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func(g []int) {
			defer func() { <-sem; wg.Done() }()
			d.mu.Lock()
			d.inFlight[w.EndpointID]++
			d.mu.Unlock()
			defer d.release(w.EndpointID)
			for _, i := range g {
				if time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				mw := *w
				mw.ID, mw.EventID, mw.Payload = rows[i].ID, rows[i].EventID, rows[i].Payload
				out := d.attempt(ctx, &mw)
				outs[i] = &out
			}
		}(g)
	}
	wg.Wait()
	return outs
}

// rowUpdate is what one attempt of a chunk changes in its delivery.
type rowUpdate struct {
	id      string
	status  string
	started time.Time
	err     string
	rstatus *int
	next    *time.Time
	retries int
	gen     int
}

// recordChunk stores the chunk's attempts and what follows each, in one
// transaction. A message whose lease is no longer this chunk's (it expired
// and another run claimed it) is left to that run; one not attempted is
// released for the next claim.
func (d *Deliverer) recordChunk(ctx context.Context, w *work, rows []batchRow, outs []*outcome, lease time.Time) error {
	now := d.now()
	var ups []rowUpdate
	var unsent []string
	attempts := map[string]Attempt{}
	results := map[string]outcome{}
	for i, r := range rows {
		out := outs[i]
		if out == nil {
			unsent = append(unsent, r.ID)
			continue
		}
		a := Attempt{
			ID: ident.New("att"), DeliveryID: r.ID, EndpointID: w.EndpointID, Number: 1, Trigger: TriggerScheduled,
			URL: w.URL, StartedAt: out.started, DurationMS: int(out.duration / time.Millisecond),
			ResponseBody: out.body, Error: db.Clip(out.err, maxErrorText),
		}
		if out.status != 0 {
			a.ResponseStatus = &out.status
		}
		attempts[r.ID], results[r.ID] = a, *out
		u := rowUpdate{id: r.ID, status: StatusPending, started: out.started, err: a.Error, rstatus: a.ResponseStatus, gen: 1}
		switch {
		case out.ok():
			u.status = StatusDelivered
		case out.status == http.StatusGone || len(d.cfg.Schedule) == 0:
			u.status = StatusFailed
		default:
			next := now.Add(d.retryDelay(0, out.retryAfter))
			u.next, u.retries, u.gen = &next, 1, 2
		}
		ups = append(ups, u)
	}
	var disabled *DisabledNotice
	err := d.db.WithTx(ctx, func(ctx context.Context) error {
		if len(unsent) > 0 {
			if err := d.db.Conn(ctx).Model(&Delivery{}).Where("id IN ? AND next_attempt_at = ?", unsent, lease).
				Updates(map[string]any{"next_attempt_at": now, "updated_at": now}).Error; err != nil {
				return fmt.Errorf("release webhook deliveries: %w", err)
			}
		}
		if len(ups) == 0 {
			return nil
		}
		updated, err := d.updateRows(ctx, ups, lease, now)
		if err != nil {
			return err
		}
		var logged []Attempt
		var tasks []jobs.Task
		var recorded []outcome
		for _, u := range ups {
			if !updated[u.id] {
				continue // claimed again elsewhere, replaced by a manual retry, or deleted
			}
			logged = append(logged, attempts[u.id])
			recorded = append(recorded, results[u.id])
			if u.next != nil {
				tasks = append(tasks, deliverTask(u.id, 2, false, *u.next, d.cfg.Timeout))
			}
		}
		if len(logged) == 0 {
			return nil
		}
		if err := d.db.Conn(ctx).Create(&logged).Error; err != nil {
			return fmt.Errorf("record webhook attempts: %w", err)
		}
		if len(tasks) > 0 {
			if err := d.outbox.Enqueue(ctx, tasks...); err != nil {
				return err
			}
		}
		disabled, err = d.trackHealth(ctx, w, summarize(recorded), now)
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

// updateRows applies a chunk's updates to the deliveries still leased to
// it, and returns the ids it updated.
func (d *Deliverer) updateRows(ctx context.Context, ups []rowUpdate, lease, now time.Time) (map[string]bool, error) {
	cols := []db.Column{{Name: "status", Type: "text"}, {Name: "last_attempt_at", Type: "timestamptz"},
		{Name: "last_error", Type: "text"}, {Name: "last_response_status", Type: "int"},
		{Name: "next_attempt_at", Type: "timestamptz"}, {Name: "retries", Type: "int"}, {Name: "generation", Type: "int"}}
	values := make([][]any, 0, len(ups))
	for _, u := range ups {
		values = append(values, []any{u.id, u.status, u.started, u.err, u.rstatus, u.next, u.retries, u.gen})
	}
	ids, err := d.db.UpdateEach(ctx, "webhook_deliveries", "id", cols, values,
		map[string]any{"attempts": 1, "updated_at": now},
		"status = ? AND attempts = 0 AND generation = 1 AND next_attempt_at = ?", StatusPending, lease)
	if err != nil {
		return nil, fmt.Errorf("update webhook deliveries: %w", err)
	}
	updated := make(map[string]bool, len(ids))
	for _, id := range ids {
		updated[id] = true
	}
	return updated, nil
}

// summarize reduces a chunk's outcomes to the one that decides the
// endpoint's health: a 410 Gone, else a success, else the earliest failure.
func summarize(outs []outcome) outcome {
	var ok, failed *outcome
	for i := range outs {
		o := &outs[i]
		switch {
		case o.status == http.StatusGone:
			return *o
		case o.ok():
			ok = o
		case failed == nil || o.started.Before(failed.started):
			failed = o
		}
	}
	if ok != nil {
		return *ok
	}
	return *failed
}
