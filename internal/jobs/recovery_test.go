package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/jobs"
)

// recoveryGoal is how soon after a worker's restart or the database's
// return every task must run again (issue 9: 331 s and 631 s before).
const recoveryGoal = 15 * time.Second

const (
	hangChildDB    = "VELLUM_JOBS_HANG_CHILD_DB"
	hangChildRedis = "VELLUM_JOBS_HANG_CHILD_REDIS"
	hangChildRaw   = "VELLUM_JOBS_HANG_CHILD_RAW"
)

// runHangChild is a worker whose "test:recover" handler marks that it
// started and then hangs until the process is killed.
func runHangChild() {
	ctx := context.Background()
	fatal := func(err error) { fmt.Fprintln(os.Stderr, "hang child:", err); os.Exit(3) }
	d, err := db.Open(ctx, os.Getenv(hangChildDB))
	if err != nil {
		fatal(err)
	}
	opt, err := asynq.ParseRedisURI(os.Getenv(hangChildRedis))
	if err != nil {
		fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ob := jobs.NewOutbox(d)
	go jobs.NewDispatcher(d, ob, asynq.NewClient(opt), jobs.DispatcherConfig{Interval: 50 * time.Millisecond}, log).Run(ctx)
	if os.Getenv(hangChildRaw) != "" {
		// Takes tasks from Redis and dies before claiming them: the window
		// between Asynq handing a task out and the outbox claim.
		srv := asynq.NewServer(opt, asynq.Config{Concurrency: 4, TaskCheckInterval: 20 * time.Millisecond,
			Logger: nil, LogLevel: asynq.FatalLevel})
		mux := asynq.NewServeMux()
		mux.HandleFunc("test:recover", func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			if err := d.Conn(ctx).Exec("INSERT INTO recover_started (task_key) VALUES (?)", id).Error; err != nil {
				return err
			}
			select {}
		})
		if err := srv.Start(mux); err != nil {
			fatal(err)
		}
		select {}
	}
	w := jobs.NewWorker(d, opt, jobs.WorkerConfig{Concurrency: 4, Logger: log})
	w.Handle("test:recover", func(ctx context.Context, dl jobs.Delivery) error {
		if err := d.Conn(ctx).Exec("INSERT INTO recover_started (task_key) VALUES (?)", dl.ID).Error; err != nil {
			return err
		}
		select {} // until killed
	})
	if err := w.Start(); err != nil {
		fatal(err)
	}
	select {}
}

// recoverHarness runs a dispatcher and a worker on database whose
// "test:recover" handler records its effect exactly once.
func recoverHarness(t *testing.T, d *db.DB, redisAddr string, cfg jobs.DispatcherConfig) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := asynq.RedisClientOpt{Addr: redisAddr, DB: rdb.DB}
	client := asynq.NewClient(opt)
	ob := jobs.NewOutbox(d)
	cfg.Interval = 100 * time.Millisecond
	disp := jobs.NewDispatcher(d, ob, client, cfg, log)
	dctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	w := jobs.NewWorker(d, opt, jobs.WorkerConfig{Concurrency: 4, ShutdownTimeout: 5 * time.Second, Logger: log})
	w.Handle("test:recover", func(ctx context.Context, dl jobs.Delivery) error {
		time.Sleep(20 * time.Millisecond)
		return jobs.Complete(ctx, d, func(ctx context.Context) error {
			return d.Conn(ctx).Exec("INSERT INTO recover_effects (task_key) VALUES (?)", dl.ID).Error
		})
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Shutdown(); cancel(); <-done; _ = client.Close() })
}

func resetRecoverTables(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		"UPDATE outbox_tasks SET status = 'done' WHERE status NOT IN ('done', 'failed')",
		"CREATE TABLE IF NOT EXISTS recover_started (task_key TEXT NOT NULL)",
		"CREATE TABLE IF NOT EXISTS recover_effects (task_key TEXT NOT NULL)",
		"DELETE FROM recover_started", "DELETE FROM recover_effects",
	} {
		if err := pg.DB.Conn(ctx).Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func enqueueRecover(t *testing.T, prefix string, n int) {
	t.Helper()
	ob := jobs.NewOutbox(pg.DB)
	for i := 0; i < n; i++ {
		if err := pg.DB.WithTx(context.Background(), func(ctx context.Context) error {
			return ob.Enqueue(ctx, jobs.Task{Type: "test:recover", Key: fmt.Sprintf("%s-%d", prefix, i)})
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func countRows(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pg.DB.Conn(context.Background()).Raw(q, args...).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// waitAllOnce waits up to limit for every task of prefix to be done and
// checks each took effect exactly once; it returns how long that took.
func waitAllOnce(t *testing.T, prefix string, n int, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for countRows(t, "SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE ? AND status = 'done'", "test:recover:"+prefix+"-%") < int64(n) {
		if time.Since(since) > limit {
			t.Fatalf("not every task done within %s of recovery: %d unfinished", limit,
				countRows(t, "SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE ? AND status <> 'done'", "test:recover:"+prefix+"-%"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(since)
	if got := countRows(t, "SELECT COUNT(*) FROM recover_effects WHERE task_key LIKE ?", "test:recover:"+prefix+"-%"); got != int64(n) {
		t.Fatalf("%d effects, want exactly %d", got, n)
	}
	if d := countRows(t, "SELECT COUNT(*) FROM (SELECT task_key FROM recover_effects GROUP BY task_key HAVING COUNT(*) > 1) x"); d != 0 {
		t.Fatalf("%d tasks took effect more than once", d)
	}
	return took
}

func TestWorker_KilledWorkersTasksResumeWithinSecondsOfRestart(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, raw string
		claimed           bool
	}{
		{"claimed", "kill", "", true},
		{"taken from Redis but not yet claimed", "orphan", "1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetRecoverTables(t)
			const n = 6
			enqueueRecover(t, tc.prefix, n)
			child := exec.Command(os.Args[0], "-test.run=^$", "-test.timeout=5m")
			child.Env = append(os.Environ(), hangChildDB+"="+pg.URL, hangChildRedis+"="+rdb.URL, hangChildRaw+"="+tc.raw)
			child.Stdout, child.Stderr = os.Stderr, os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for countRows(t, "SELECT COUNT(*) FROM recover_started") < 4 {
				if time.Now().After(deadline) {
					_ = child.Process.Kill()
					t.Fatal("the child started no task within 60s")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			running := countRows(t, "SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE ? AND status = 'running'", "test:recover:"+tc.prefix+"-%")
			if (running > 0) != tc.claimed {
				t.Fatalf("%d tasks running in the outbox when the worker died; the test proves nothing", running)
			}
			restarted := time.Now()
			recoverHarness(t, pg.DB, rdb.Addr, jobs.DispatcherConfig{Redis: rdb.Client})
			took := waitAllOnce(t, tc.prefix, n, restarted, recoveryGoal)
			t.Logf("every task of the killed worker done %s after the restart", took.Round(10*time.Millisecond))
		})
	}
}

func TestWorker_TasksResumeWithinSecondsOfTheDatabasesReturn(t *testing.T) {
	resetRecoverTables(t)
	// The worker reaches PostgreSQL through a proxy the test cuts: every
	// connection breaks and new ones are refused, as in a restart.
	u, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	d, err := db.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	recoverHarness(t, d, rdb.Addr, jobs.DispatcherConfig{})
	const n = 60
	enqueueRecover(t, "outage", n)
	deadline := time.Now().Add(60 * time.Second)
	for countRows(t, "SELECT COUNT(*) FROM recover_effects") < 5 {
		if time.Now().After(deadline) {
			t.Fatal("no task done within 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.cut()
	// Down long enough for running handlers and their releases to fail.
	time.Sleep(3 * time.Second)
	if left := countRows(t, "SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE 'test:recover:outage-%' AND status <> 'done'"); left == 0 {
		t.Fatal("every task finished before the outage; the test proves nothing")
	}
	p.restore()
	back := time.Now()
	took := waitAllOnce(t, "outage", n, back, recoveryGoal)
	t.Logf("every task done %s after the database returned", took.Round(10*time.Millisecond))
}

func TestDispatcher_RedisLosingItsDataIsNoticedAtOnce(t *testing.T) {
	resetRecoverTables(t)
	ctx := context.Background()
	// Re-relaying on a timer alone would take an hour here.
	recoverHarness(t, pg.DB, rdb.Addr, jobs.DispatcherConfig{RelayAfter: time.Hour, Redis: rdb.Client})
	const n = 200
	enqueueRecover(t, "flush", n)
	deadline := time.Now().Add(60 * time.Second)
	for countRows(t, "SELECT COUNT(*) FROM recover_effects") < 5 {
		if time.Now().After(deadline) {
			t.Fatal("no task done within 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	flushed := time.Now()
	if left := countRows(t, "SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE 'test:recover:flush-%' AND status = 'enqueued'"); left == 0 {
		t.Fatal("no task was waiting in Redis at the flush; the test proves nothing")
	}
	took := waitAllOnce(t, "flush", n, flushed, recoveryGoal)
	t.Logf("every task done %s after Redis lost its data", took.Round(10*time.Millisecond))
}
