package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/jobs"
)

// The crash test mirrors `vellum dev`: an SQLite file, an in-process Redis
// that starts empty every run, and the process killed with SIGKILL mid-work.

const crashChildEnv = "VELLUM_JOBS_CRASH_CHILD_DB"

// runCrashChild is the child process, started by TestMain when the
// environment names its database; it works until killed.
func runCrashChild(path string) {
	ctx := context.Background()
	fatal := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	d, err := db.Open(ctx, "sqlite://"+path)
	if err != nil {
		fatal(err)
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		fatal(err)
	}
	ob := jobs.NewOutbox(d)
	if _, err := ob.RequeueUnfinished(ctx); err != nil {
		fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := asynq.RedisClientOpt{Addr: mr.Addr()}
	client := asynq.NewClient(opt)
	go jobs.NewDispatcher(d, ob, client, jobs.DispatcherConfig{Interval: 50 * time.Millisecond}, log).Run(ctx)
	w := jobs.NewWorker(d, opt, jobs.WorkerConfig{Concurrency: 2, Logger: log})
	w.Handle("test:crash", func(ctx context.Context, dl jobs.Delivery) error {
		time.Sleep(150 * time.Millisecond)
		return jobs.Complete(ctx, d, func(ctx context.Context) error {
			return d.Conn(ctx).Exec("INSERT INTO effects_crash (task_key) VALUES (?)", dl.ID).Error
		})
	})
	if err := w.Start(); err != nil {
		fatal(err)
	}
	select {} // until killed
}

func TestOutbox_KillNineMidWorkThenRestartFinishesEverythingOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vellum.db")
	d, err := db.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Conn(ctx).Exec("CREATE TABLE effects_crash (task_key TEXT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	ob := jobs.NewOutbox(d)
	const n = 30
	for i := 0; i < n; i++ {
		if err := d.WithTx(ctx, func(ctx context.Context) error {
			return ob.Enqueue(ctx, jobs.Task{Type: "test:crash", Key: fmt.Sprint(i)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		var c int64
		if err := d.Conn(ctx).Raw("SELECT COUNT(*) FROM effects_crash").Scan(&c).Error; err != nil {
			t.Fatal(err)
		}
		return c
	}
	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	child := startChild()
	deadline := time.Now().Add(60 * time.Second)
	for count() < 5 {
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			t.Fatal("child finished no task within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killedAt := count()
	if killedAt >= n {
		t.Fatalf("all %d tasks finished before the kill; the test proves nothing", n)
	}
	var running int64
	_ = d.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE status <> 'done'").Scan(&running).Error
	t.Logf("killed after %d of %d tasks; %d unfinished in the outbox", killedAt, n, running)

	child = startChild()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	deadline = time.Now().Add(60 * time.Second)
	for {
		var done int64
		_ = d.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE status = 'done'").Scan(&done).Error
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d tasks done after restart", done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var dupes int64
	_ = d.Conn(ctx).Raw("SELECT COUNT(*) FROM (SELECT task_key FROM effects_crash GROUP BY task_key HAVING COUNT(*) > 1) x").Scan(&dupes).Error
	if got := count(); got != n || dupes != 0 {
		t.Fatalf("%d effects (%d tasks with more than one), want exactly %d, one each", got, dupes, n)
	}
}
