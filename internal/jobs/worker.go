package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
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
	// Lease is how long a claim on a running task lasts without renewal
	// (default 10 s). A heartbeat renews it every Lease/3 while the handler
	// runs, so a worker that dies leaves its tasks to others within Lease.
	Lease      time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// errClaimLost ends a handler whose claim could not be renewed before it
// ran out: another worker may be running the task by now.
var errClaimLost = errors.New("task claim lost: not renewed within its lease")

// Worker runs task handlers from Asynq, claiming each task in the outbox
// first so a task finished once is never run again.
type Worker struct {
	db      *db.DB
	srv     *asynq.Server
	mux     *asynq.ServeMux
	log     *slog.Logger
	metrics *taskMetrics
	lease   time.Duration
}

// NewWorker builds a worker on the Redis connection.
func NewWorker(database *db.DB, redis asynq.RedisConnOpt, cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 25 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
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
		// An unreachable database or a lost claim is the infrastructure's
		// failure, not the task's: it neither uses up a retry nor waits
		// out Asynq's growing delays (minutes after a few), so the task
		// resumes about a second after the database returns.
		IsFailure: isFailure,
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if !isFailure(err) {
				return time.Second
			}
			return asynq.DefaultRetryDelayFunc(n, err, t)
		},
	})
	return &Worker{db: database, srv: srv, mux: asynq.NewServeMux(), log: log,
		metrics: newTaskMetrics(cfg.Registerer), lease: cfg.Lease}
}

// DefaultLease is WorkerConfig.Lease's default.
const DefaultLease = 10 * time.Second

func isFailure(err error) bool {
	return !db.Unavailable(err) && !errors.Is(err, errClaimLost)
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
	qid, _ := asynq.GetTaskID(ctx)
	id := rowID(qid)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	log := w.log.With("task_id", id, "task_type", taskType, "attempt", retried+1)

	token, err := w.claim(ctx, id)
	if err != nil {
		return fmt.Errorf("claim task %s: %w", id, err)
	}
	if token == "" {
		w.metrics.observe(taskType, "skipped", 0)
		log.Debug("task already finished or claimed elsewhere; skipping")
		return nil
	}

	start := time.Now()
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := w.heartbeat(hctx, cancel, id, token, log)
	// The task label splits CPU profiles by task type (go tool pprof -tags).
	pprof.Do(context.WithValue(hctx, taskIDKey{}, id), pprof.Labels("task", taskType), func(ctx context.Context) {
		err = h(ctx, Delivery{ID: id, Type: taskType, Payload: t.Payload(), Attempt: retried + 1})
	})
	stop()
	if err != nil && context.Cause(hctx) == errClaimLost {
		err = fmt.Errorf("%w: %w", errClaimLost, err)
	}
	elapsed := time.Since(start)
	// Bookkeeping must survive a handler that ran out its own deadline, and
	// is retried through a short database outage: until the claim would
	// have run out anyway, after which the dispatcher takes the task over.
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), w.lease)
	defer bcancel()
	switch {
	case err == nil || errors.Is(err, ErrAlreadyDone):
		w.metrics.observe(taskType, "done", elapsed)
		if err := w.retry(bctx, func(ctx context.Context) error { return w.finish(ctx, id, StatusDone, "") }); err != nil {
			return fmt.Errorf("mark task %s done: %w", id, err)
		}
		return nil
	case isFailure(err) && (retried >= maxRetry || errors.Is(err, asynq.SkipRetry)):
		w.metrics.observe(taskType, "failed", elapsed)
		log.Error("task failed for good", "err", err)
		if ferr := w.retry(bctx, func(ctx context.Context) error { return w.finish(ctx, id, StatusFailed, err.Error()) }); ferr != nil {
			log.Error("mark task failed", "err", ferr)
		}
		return err
	default:
		w.metrics.observe(taskType, "retry", elapsed)
		log.Warn("task failed; will retry", "err", err)
		if rerr := w.retry(bctx, func(ctx context.Context) error { return w.release(ctx, id, token, err) }); rerr != nil {
			log.Error("release task claim; it expires within its lease", "err", rerr)
		}
		return err
	}
}

// rowID is the outbox row of an Asynq task id: the dispatcher names a task
// it took over from a dead worker id#n (see Dispatcher.RelayOnce).
func rowID(qid string) string {
	i := strings.LastIndexByte(qid, '#')
	if i < 0 {
		return qid
	}
	if _, err := strconv.Atoi(qid[i+1:]); err != nil {
		return qid
	}
	return qid[:i]
}

// retry runs f until it succeeds, fails other than by an unreachable
// database, or ctx ends.
func (w *Worker) retry(ctx context.Context, f func(ctx context.Context) error) error {
	delay := 100 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !db.Unavailable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// claim marks the task running for this worker unless it is finished or
// another worker's claim is still live: one conditional UPDATE. It returns
// the claim's token, or "" when the task is not this worker's to run.
func (w *Worker) claim(ctx context.Context, id string) (string, error) {
	now := time.Now().UTC()
	token := newToken()
	res := w.db.Conn(ctx).Model(&record{}).
		Where("id = ? AND (status IN ? OR (status = ? AND (claimed_until IS NULL OR claimed_until <= ?)))",
			id, []string{StatusPending, StatusEnqueued}, StatusRunning, now).
		Updates(map[string]any{
			"status": StatusRunning, "claimed_until": now.Add(w.lease), "claim_token": token,
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now,
		})
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected != 1 {
		return "", nil
	}
	return token, nil
}

// heartbeat renews the claim every lease/3 until stop is called. Should the
// claim run out unrenewed (the database unreachable all that time) or pass
// to another run, it cancels the handler's context with errClaimLost.
func (w *Worker) heartbeat(ctx context.Context, lost context.CancelCauseFunc, id, token string, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(w.lease / 3)
		defer tick.Stop()
		until := time.Now().Add(w.lease)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, w.lease/3)
			held, err := w.renew(rctx, id, token, sent.UTC().Add(w.lease))
			cancel()
			switch {
			case err == nil && held:
				until = sent.Add(w.lease)
			case err == nil:
				return // finished inside the handler (Complete), or taken over
			case time.Now().After(until):
				log.Warn("task claim ran out while the database was unreachable; stopping the handler", "err", err)
				lost(errClaimLost)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// renew extends a running claim held under token. held is false when the
// task is no longer running under it.
func (w *Worker) renew(ctx context.Context, id, token string, until time.Time) (held bool, err error) {
	res := w.db.Conn(ctx).Model(&record{}).Where("id = ? AND status = ? AND claim_token = ?", id, StatusRunning, token).
		Updates(map[string]any{"claimed_until": until})
	return res.RowsAffected == 1, res.Error
}

// release hands a failed run's task back for its retry.
func (w *Worker) release(ctx context.Context, id, token string, cause error) error {
	now := time.Now().UTC()
	return w.db.Conn(ctx).Model(&record{}).Where("id = ? AND status = ? AND claim_token = ?", id, StatusRunning, token).
		Updates(map[string]any{"status": StatusEnqueued, "claimed_until": nil, "claim_token": "", "relayed_at": now,
			"last_error": db.Clip(cause.Error(), 2000), "updated_at": now}).Error
}

func (w *Worker) finish(ctx context.Context, id, status, lastErr string) error {
	now := time.Now().UTC()
	return w.db.Conn(ctx).Model(&record{}).Where("id = ? AND status NOT IN ?", id, []string{StatusDone, StatusFailed}).
		Updates(map[string]any{"status": status, "finished_at": now, "claimed_until": nil, "claim_token": "",
			"last_error": db.Clip(lastErr, 2000), "updated_at": now}).Error
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
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
			Updates(map[string]any{"status": StatusDone, "finished_at": now, "claimed_until": nil, "claim_token": "", "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("mark task %s done: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrAlreadyDone
		}
		return fn(ctx)
	})
}
