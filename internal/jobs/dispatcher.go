package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/db"
)

// DispatcherConfig tunes the relay loop.
type DispatcherConfig struct {
	// Interval between polls when nothing wakes the dispatcher (default 1 s).
	Interval time.Duration
	// RelayAfter is how long a due enqueued task may stay unfinished before
	// it is handed to Asynq again (default 10 s). A task still in Redis is
	// refused as a duplicate id, so a re-relay costs a round trip or two; a
	// task Redis lost is queued again, and one a dead worker took from Redis
	// without claiming it is taken over.
	RelayAfter time.Duration
	// Retention keeps finished rows this long before pruning (default 7 days).
	Retention time.Duration
	// Batch is the number of rows relayed per transaction (default 200).
	Batch int
	// Redis, when set, is watched for losing its data (FLUSHALL, a restart
	// without persistence): the dispatcher keeps a marker key there, and
	// when it vanishes every enqueued task is relayed again at once rather
	// than after RelayAfter.
	Redis redis.UniversalClient
}

func (c *DispatcherConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.RelayAfter <= 0 {
		c.RelayAfter = 10 * time.Second
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
	epoch  string // the marker value last seen in Redis

	inspector *asynq.Inspector // nil without DispatcherConfig.Redis
}

// epochKey is the marker whose disappearance shows Redis lost its data.
const epochKey = "vellum:outbox:epoch"

// NewDispatcher returns a dispatcher relaying outbox rows through client.
func NewDispatcher(database *db.DB, outbox *Outbox, client *asynq.Client, cfg DispatcherConfig, log *slog.Logger) *Dispatcher {
	cfg.defaults()
	d := &Dispatcher{db: database, outbox: outbox, client: client, cfg: cfg, log: log}
	if cfg.Redis != nil {
		d.inspector = asynq.NewInspectorFromRedisClient(cfg.Redis)
	}
	return d
}

// Run relays until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) { RunPeriodic(ctx, d.log, d.Loops()...) }

// Loops are the dispatcher's background loops: relaying due rows (woken
// at once by a commit in this process) and pruning finished ones hourly.
func (d *Dispatcher) Loops() []Periodic {
	return []Periodic{
		{Name: "outbox relay", Interval: d.cfg.Interval, Wake: d.outbox.kick, Run: d.relayAll},
		{Name: "outbox prune", Interval: time.Hour, Run: d.Prune},
	}
}

// relayAll checks Redis for lost data and relays every due row, a batch
// at a time.
func (d *Dispatcher) relayAll(ctx context.Context) error {
	if err := d.watchRedis(ctx); err != nil && ctx.Err() == nil {
		d.log.Debug("check redis marker", "err", err)
	}
	for {
		n, err := d.RelayOnce(ctx)
		if err != nil || n < d.cfg.Batch {
			return err
		}
	}
}

// watchRedis compares the marker in Redis with the one seen last. A
// missing marker means Redis lost its data (or never had it: then the
// requeue below only costs a duplicate check per task); a different one
// means another dispatcher saw that first. Either way the enqueued tasks
// may be gone from Redis, so they become pending and are relayed now.
func (d *Dispatcher) watchRedis(ctx context.Context) error {
	if d.cfg.Redis == nil {
		return nil
	}
	cur, err := d.cfg.Redis.Get(ctx, epochKey).Result()
	switch {
	case errors.Is(err, redis.Nil):
		fresh := newToken()
		ok, err := d.cfg.Redis.SetNX(ctx, epochKey, fresh, 0).Result()
		if err != nil {
			return err
		}
		if ok {
			cur = fresh
		} else if cur, err = d.cfg.Redis.Get(ctx, epochKey).Result(); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if cur == d.epoch {
		return nil
	}
	n, err := d.outbox.requeueEnqueued(ctx)
	if err != nil {
		return err
	}
	if d.epoch != "" {
		d.log.Warn("redis lost its data; relaying every enqueued task again", "tasks", n)
	}
	d.epoch = cur
	return nil
}

// RelayOnce hands one batch of due rows to Asynq and reports how many.
func (d *Dispatcher) RelayOnce(ctx context.Context) (int, error) {
	relayed := 0
	err := d.db.WithTx(ctx, func(ctx context.Context) error {
		now := time.Now().UTC()
		var rows []record
		q := d.db.Conn(ctx).
			Where("(status = ?) OR (status = ? AND relayed_at < ? AND run_at <= ?) OR (status = ? AND claimed_until < ?)",
				StatusPending, StatusEnqueued, now.Add(-d.cfg.RelayAfter), now, StatusRunning, now).
			Order("run_at").Limit(d.cfg.Batch)
		if err := d.db.ForUpdate(q, true).Find(&rows).Error; err != nil {
			return fmt.Errorf("select outbox rows: %w", err)
		}
		var ids, takenOver []string
		orphaned := d.orphans()
		for _, r := range rows {
			// A running task whose claim ran out unrenewed lost its worker;
			// that run's Asynq task may sit in Redis as active for minutes
			// (until Asynq's own lease recovery), refusing its id, so the
			// takeover goes out under a new one.
			takeover := r.Status == StatusRunning
			qid := r.asynqID(takeover)
			err := d.enqueue(ctx, r, qid, now)
			if errors.Is(err, asynq.ErrTaskIDConflict) && r.Status == StatusEnqueued && orphaned(r.Queue, qid) {
				// Taken by a worker that died before claiming it.
				takeover, qid = true, r.asynqID(true)
				err = d.enqueue(ctx, r, qid, now)
			}
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				if len(ids)+len(takenOver) > 0 {
					// Keep what did reach Redis recorded; the rest waits.
					break
				}
				return fmt.Errorf("enqueue %s: %w", qid, err)
			}
			if takeover {
				takenOver = append(takenOver, r.ID)
			} else {
				ids = append(ids, r.ID)
			}
		}
		// One UPDATE per kind: the rows stay locked until it commits.
		set := map[string]any{
			"status": StatusEnqueued, "relayed_at": now, "relays": gorm.Expr("relays + 1"), "updated_at": now,
		}
		if len(ids) > 0 {
			if err := d.db.Conn(ctx).Model(&record{}).Where("id IN ?", ids).Updates(set).Error; err != nil {
				return fmt.Errorf("mark %d tasks enqueued: %w", len(ids), err)
			}
		}
		if len(takenOver) > 0 {
			set["takeovers"], set["claimed_until"], set["claim_token"] = gorm.Expr("takeovers + 1"), nil, ""
			if err := d.db.Conn(ctx).Model(&record{}).Where("id IN ?", takenOver).Updates(set).Error; err != nil {
				return fmt.Errorf("take over %d tasks: %w", len(takenOver), err)
			}
			d.log.Info("took over tasks whose worker stopped renewing its claim", "count", len(takenOver))
		}
		relayed = len(ids) + len(takenOver)
		return nil
	})
	return relayed, err
}

// asynqID is the id the row's task has in Asynq: id#n after n takeovers,
// or the next one for a takeover now.
func (r record) asynqID(takeover bool) string {
	n := r.Takeovers
	if takeover {
		n++
	}
	if n == 0 {
		return r.ID
	}
	return fmt.Sprintf("%s#%d", r.ID, n)
}

func (d *Dispatcher) enqueue(ctx context.Context, r record, qid string, now time.Time) error {
	opts := []asynq.Option{
		asynq.TaskID(qid), asynq.Queue(r.Queue), asynq.MaxRetry(r.MaxRetry),
		asynq.Timeout(time.Duration(r.TimeoutSeconds) * time.Second),
	}
	if r.RunAt.After(now) {
		opts = append(opts, asynq.ProcessAt(r.RunAt))
	}
	_, err := d.client.EnqueueContext(ctx, asynq.NewTask(r.Type, r.Payload), opts...)
	return err
}

// orphans returns a test for tasks Asynq holds as active although no live
// worker runs them: a worker that died between taking a task from Redis and
// claiming it in the outbox. Asynq would hand such a task out again only
// after its own lease and recovery sweep (about 1.5 min). Live workers are
// read once, on first use; without Redis nothing counts as orphaned.
func (d *Dispatcher) orphans() func(queue, qid string) bool {
	if d.inspector == nil {
		return func(string, string) bool { return false }
	}
	var live map[string]bool
	return func(queue, qid string) bool {
		info, err := d.inspector.GetTaskInfo(queue, qid)
		if err != nil || info.State != asynq.TaskStateActive {
			return false
		}
		if live == nil {
			servers, err := d.inspector.Servers()
			if err != nil {
				return false
			}
			live = map[string]bool{}
			for _, s := range servers {
				for _, w := range s.ActiveWorkers {
					live[w.TaskID] = true
				}
			}
		}
		return !live[qid]
	}
}

// Prune deletes finished rows older than the retention.
func (d *Dispatcher) Prune(ctx context.Context) error {
	cutoff := time.Now().UTC().Add(-d.cfg.Retention)
	return d.db.Conn(ctx).Where("status IN ? AND finished_at < ?", []string{StatusDone, StatusFailed}, cutoff).
		Delete(&record{}).Error
}
