package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
)

// DispatcherConfig tunes the relay loop.
type DispatcherConfig struct {
	// Interval between polls when nothing wakes the dispatcher (default 1 s).
	Interval time.Duration
	// RelayAfter is how long an enqueued task may stay unfinished before it
	// is handed to Asynq again (default 1 min). A task still in Redis is
	// refused as a duplicate id, so a re-relay costs one round trip; a task
	// Redis lost is queued again.
	RelayAfter time.Duration
	// Retention keeps finished rows this long before pruning (default 7 days).
	Retention time.Duration
	// Batch is the number of rows relayed per transaction (default 200).
	Batch int
}

func (c *DispatcherConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.RelayAfter <= 0 {
		c.RelayAfter = time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.Batch <= 0 {
		c.Batch = 200
	}
}

// Dispatcher relays unfinished outbox rows to Asynq. Any number may run
// against one database: on PostgreSQL rows are claimed with SKIP LOCKED.
type Dispatcher struct {
	db     *db.DB
	outbox *Outbox
	client *asynq.Client
	cfg    DispatcherConfig
	log    *slog.Logger
}

// NewDispatcher returns a dispatcher relaying outbox rows through client.
func NewDispatcher(database *db.DB, outbox *Outbox, client *asynq.Client, cfg DispatcherConfig, log *slog.Logger) *Dispatcher {
	cfg.defaults()
	return &Dispatcher{db: database, outbox: outbox, client: client, cfg: cfg, log: log}
}

// Run relays until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()
	lastPrune := time.Time{}
	failing := false
	for {
		for {
			n, err := d.RelayOnce(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// One line per outage, not one per poll.
				if !failing {
					d.log.Warn("outbox relay failing; tasks stay in the database until it recovers", "err", err)
				}
				failing = true
				break
			}
			if failing {
				d.log.Info("outbox relay recovered")
				failing = false
			}
			if n < d.cfg.Batch {
				break
			}
		}
		if time.Since(lastPrune) > time.Hour {
			if err := d.Prune(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("prune outbox", "err", err)
			}
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.outbox.kick:
		}
	}
}

// RelayOnce hands one batch of due rows to Asynq and reports how many.
func (d *Dispatcher) RelayOnce(ctx context.Context) (int, error) {
	relayed := 0
	err := d.db.WithTx(ctx, func(ctx context.Context) error {
		now := time.Now().UTC()
		var rows []record
		q := d.db.Conn(ctx).
			Where("(status = ?) OR (status = ? AND relayed_at < ?) OR (status = ? AND claimed_until < ?)",
				StatusPending, StatusEnqueued, now.Add(-d.cfg.RelayAfter), StatusRunning, now).
			Order("run_at").Limit(d.cfg.Batch)
		if err := d.db.ForUpdate(q, true).Find(&rows).Error; err != nil {
			return fmt.Errorf("select outbox rows: %w", err)
		}
		var ids []string
		for _, r := range rows {
			opts := []asynq.Option{
				asynq.TaskID(r.ID), asynq.Queue(r.Queue), asynq.MaxRetry(r.MaxRetry),
				asynq.Timeout(time.Duration(r.TimeoutSeconds) * time.Second),
			}
			if r.RunAt.After(now) {
				opts = append(opts, asynq.ProcessAt(r.RunAt))
			}
			_, err := d.client.EnqueueContext(ctx, asynq.NewTask(r.Type, r.Payload), opts...)
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				if len(ids) > 0 {
					// Keep what did reach Redis recorded; the rest waits.
					break
				}
				return fmt.Errorf("enqueue %s: %w", r.ID, err)
			}
			ids = append(ids, r.ID)
		}
		if len(ids) == 0 {
			return nil
		}
		// One UPDATE for the batch: the rows stay locked until it commits.
		upd := d.db.Conn(ctx).Model(&record{}).Where("id IN ?", ids).Updates(map[string]any{
			"status": StatusEnqueued, "relayed_at": now, "relays": gorm.Expr("relays + 1"), "updated_at": now,
		})
		if upd.Error != nil {
			return fmt.Errorf("mark %d tasks enqueued: %w", len(ids), upd.Error)
		}
		relayed = len(ids)
		return nil
	})
	return relayed, err
}

// Prune deletes finished rows older than the retention.
func (d *Dispatcher) Prune(ctx context.Context) error {
	cutoff := time.Now().UTC().Add(-d.cfg.Retention)
	return d.db.Conn(ctx).Where("status IN ? AND finished_at < ?", []string{StatusDone, StatusFailed}, cutoff).
		Delete(&record{}).Error
}
