package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/jobs"
)

// pruneBatch bounds the rows one prune statement deletes, so pruning a large
// backlog never holds long locks.
const pruneBatch = 1000

// Prune deletes finished deliveries (with their attempts), attempts and
// events older than the retention. It returns the rows deleted. Pending
// deliveries are kept whatever their age: they finish within the schedule.
func (d *Deliverer) Prune(ctx context.Context) (int64, error) {
	cutoff := d.now().Add(-d.cfg.Retention)
	var total int64
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"attempts", `DELETE FROM webhook_attempts WHERE id IN (
			SELECT id FROM webhook_attempts WHERE started_at < ? LIMIT ?)`, []any{cutoff, pruneBatch}},
		{"deliveries", `DELETE FROM webhook_deliveries WHERE id IN (
			SELECT id FROM webhook_deliveries WHERE created_at < ? AND status <> ? LIMIT ?)`, []any{cutoff, StatusPending, pruneBatch}},
		{"events", `DELETE FROM webhook_events WHERE id IN (
			SELECT ev.id FROM webhook_events ev WHERE ev.created_at < ?
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries dl WHERE dl.event_id = ev.id) LIMIT ?)`, []any{cutoff, pruneBatch}},
	}
	for _, st := range steps {
		for {
			res := d.db.Conn(ctx).Exec(st.sql, st.args...)
			if res.Error != nil {
				return total, fmt.Errorf("prune webhook %s: %w", st.what, res.Error)
			}
			total += res.RowsAffected
			if res.RowsAffected < pruneBatch {
				break
			}
		}
	}
	return total, nil
}

// Pruner is the background loop that prunes every interval. Several
// worker processes may run it; the deletes are idempotent.
func (d *Deliverer) Pruner(interval time.Duration) jobs.Periodic {
	return jobs.Periodic{Name: "webhook log prune", Interval: interval, Run: func(ctx context.Context) error {
		n, err := d.Prune(ctx)
		if n > 0 {
			d.log.Info("pruned webhook logs", "rows", n)
		}
		return err
	}}
}
