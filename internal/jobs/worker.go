package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
)

// ErrAlreadyDone is returned by Complete when another run finished the task first.
var ErrAlreadyDone = errors.New("task already done")

// Delivery is one run of a task as a handler sees it.
type Delivery struct {
	ID      string
	Type    string
	Payload []byte
	// Attempt counts runs of this task, from 1.
	Attempt int
}

// HandlerFunc processes a task. Handlers must be idempotent: a task may run
// again after a crash. Database effects that must happen exactly once belong
// inside Complete.
type HandlerFunc func(ctx context.Context, d Delivery) error

// WorkerConfig tunes the Asynq server.
type WorkerConfig struct {
	Concurrency     int
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
}

// Worker runs task handlers from Asynq, claiming each task in the outbox
// first so a task finished once is never run again.
type Worker struct {
	db      *db.DB
	srv     *asynq.Server
	mux     *asynq.ServeMux
	log     *slog.Logger
	metrics *taskMetrics
}

// NewWorker builds a worker on the Redis connection.
func NewWorker(database *db.DB, redis asynq.RedisConnOpt, cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 25 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	srv := asynq.NewServer(redis, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          Queues,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          asynqLogger{log},
		LogLevel:        asynq.WarnLevel,
		// Asynq sleeps this long whenever its queues are empty, which sets
		// the latency from a quiet moment to the next task (a signer
		// waiting, a webhook). At the default 1 s, webhook p99 was 1.4 s;
		// at 20 ms it was 35–380 ms for 50–200 events/s. The cost is idle
		// polling of Redis: about 50 cheap commands a second per worker.
		TaskCheckInterval: 20 * time.Millisecond,
		// Retries and scheduled tasks become due this promptly.
		DelayedTaskCheckInterval: 200 * time.Millisecond,
		// A handler error is already logged with context by the wrapper.
		ErrorHandler: nil,
	})
	return &Worker{db: database, srv: srv, mux: asynq.NewServeMux(), log: log, metrics: newTaskMetrics(cfg.Registerer)}
}

// Handle registers h for taskType.
func (w *Worker) Handle(taskType string, h HandlerFunc) {
	w.mux.HandleFunc(taskType, func(ctx context.Context, t *asynq.Task) error {
		return w.run(ctx, taskType, t, h)
	})
}

// Start begins processing in the background.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	return nil
}

// Shutdown stops fetching new tasks and waits for running ones up to the
// configured grace period; unfinished ones return to the queue.
func (w *Worker) Shutdown() { w.srv.Shutdown() }

type taskIDKey struct{}

func (w *Worker) run(ctx context.Context, taskType string, t *asynq.Task, h HandlerFunc) error {
	id, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	log := w.log.With("task_id", id, "task_type", taskType, "attempt", retried+1)

	claimed, err := w.claim(ctx, id)
	if err != nil {
		return fmt.Errorf("claim task %s: %w", id, err)
	}
	if !claimed {
		w.metrics.observe(taskType, "skipped", 0)
		log.Debug("task already finished or claimed elsewhere; skipping")
		return nil
	}

	start := time.Now()
	err = h(context.WithValue(ctx, taskIDKey{}, id), Delivery{ID: id, Type: taskType, Payload: t.Payload(), Attempt: retried + 1})
	elapsed := time.Since(start)
	// Bookkeeping must survive a handler that ran out its own deadline.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case err == nil || errors.Is(err, ErrAlreadyDone):
		w.metrics.observe(taskType, "done", elapsed)
		if err := w.finish(bctx, id, StatusDone, ""); err != nil {
			return fmt.Errorf("mark task %s done: %w", id, err)
		}
		return nil
	case retried >= maxRetry || errors.Is(err, asynq.SkipRetry):
		w.metrics.observe(taskType, "failed", elapsed)
		log.Error("task failed for good", "err", err)
		if ferr := w.finish(bctx, id, StatusFailed, err.Error()); ferr != nil {
			log.Error("mark task failed", "err", ferr)
		}
		return err
	default:
		w.metrics.observe(taskType, "retry", elapsed)
		log.Warn("task failed; will retry", "err", err)
		now := time.Now().UTC()
		if uerr := w.db.Conn(bctx).Model(&record{}).Where("id = ? AND status = ?", id, StatusRunning).
			Updates(map[string]any{"status": StatusEnqueued, "claimed_until": nil, "relayed_at": now,
				"last_error": db.Clip(err.Error(), 2000), "updated_at": now}).Error; uerr != nil {
			log.Error("release task claim", "err", uerr)
		}
		return err
	}
}

// claim marks the task running for this worker unless it is finished or
// another worker's claim is still live: one conditional UPDATE. The claim
// lasts until Asynq's deadline for this run (the task's timeout) plus a
// margin, as the dispatcher re-relays a running task only after it.
func (w *Worker) claim(ctx context.Context, id string) (bool, error) {
	now := time.Now().UTC()
	deadline, ok := ctx.Deadline()
	if !ok {
		return w.claimTx(ctx, id)
	}
	res := w.db.Conn(ctx).Model(&record{}).
		Where("id = ? AND (status IN ? OR (status = ? AND (claimed_until IS NULL OR claimed_until <= ?)))",
			id, []string{StatusPending, StatusEnqueued}, StatusRunning, now).
		Updates(map[string]any{
			"status": StatusRunning, "claimed_until": deadline.UTC().Add(30 * time.Second),
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now,
		})
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected == 1, nil
}

// claimTx is claim for a context without a deadline, reading the task's
// timeout from its row.
func (w *Worker) claimTx(ctx context.Context, id string) (bool, error) {
	now := time.Now().UTC()
	var rec record
	claimed := false
	err := w.db.WithTx(ctx, func(ctx context.Context) error {
		q := w.db.Conn(ctx).Where("id = ?", id)
		if err := w.db.ForUpdate(q, false).Take(&rec).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				// Pruned long after it finished, or never committed.
				return nil
			}
			return err
		}
		switch rec.Status {
		case StatusDone, StatusFailed:
			return nil
		case StatusRunning:
			if rec.ClaimedUntil != nil && rec.ClaimedUntil.After(now) {
				return nil
			}
		}
		until := now.Add(time.Duration(rec.TimeoutSeconds)*time.Second + 30*time.Second)
		claimed = true
		return w.db.Conn(ctx).Model(&record{}).Where("id = ?", id).Updates(map[string]any{
			"status": StatusRunning, "claimed_until": until, "attempts": rec.Attempts + 1, "updated_at": now,
		}).Error
	})
	return claimed, err
}

func (w *Worker) finish(ctx context.Context, id, status, lastErr string) error {
	now := time.Now().UTC()
	return w.db.Conn(ctx).Model(&record{}).Where("id = ? AND status NOT IN ?", id, []string{StatusDone, StatusFailed}).
		Updates(map[string]any{"status": status, "finished_at": now, "claimed_until": nil,
			"last_error": db.Clip(lastErr, 2000), "updated_at": now}).Error
}

// Complete runs fn in a transaction that also marks the current task done,
// so fn's database effects happen exactly once even if two runs race: the
// loser gets ErrAlreadyDone and its effects roll back. Call it from a handler.
func Complete(ctx context.Context, database *db.DB, fn func(ctx context.Context) error) error {
	id, ok := ctx.Value(taskIDKey{}).(string)
	if !ok {
		return errors.New("jobs.Complete called outside a task handler")
	}
	return database.WithTx(ctx, func(ctx context.Context) error {
		now := time.Now().UTC()
		res := database.Conn(ctx).Model(&record{}).Where("id = ? AND status NOT IN ?", id, []string{StatusDone, StatusFailed}).
			Updates(map[string]any{"status": StatusDone, "finished_at": now, "claimed_until": nil, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("mark task %s done: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrAlreadyDone
		}
		return fn(ctx)
	})
}
