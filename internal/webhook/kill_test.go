package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// The kill test runs the worker in a child process (this test binary again)
// against the package's real PostgreSQL and Redis, and SIGKILLs it while a
// delivery is on the wire.

const (
	killChildEnv   = "VELLUM_WEBHOOK_KILL_CHILD_DB"
	killChildRedis = "VELLUM_WEBHOOK_KILL_CHILD_REDIS"
)

func runKillChild() {
	ctx := context.Background()
	fatal := func(err error) {
		fmt.Fprintln(os.Stderr, "kill child:", err)
		os.Exit(3)
	}
	d, err := db.Open(ctx, os.Getenv(killChildEnv))
	if err != nil {
		fatal(err)
	}
	opt, err := asynq.ParseRedisURI(os.Getenv(killChildRedis))
	if err != nil {
		fatal(err)
	}
	ob := jobs.NewOutbox(d)
	cfg := fastConfig()
	cfg.Timeout = 5 * time.Second
	dl := webhook.NewDeliverer(d, ob, cfg, nil, quiet)
	go jobs.NewDispatcher(d, ob, asynq.NewClient(opt), jobs.DispatcherConfig{Interval: 50 * time.Millisecond, RelayAfter: time.Second}, quiet).Run(ctx)
	w := jobs.NewWorker(d, opt, jobs.WorkerConfig{Concurrency: 2, Logger: quiet})
	w.Handle(webhook.TaskDeliver, dl.Deliver)
	if err := w.Start(); err != nil {
		fatal(err)
	}
	select {} // until killed
}

func TestDeliver_WorkerKilledMidDeliveryLosesNoMessage(t *testing.T) {
	ctx := context.Background()
	if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := pg.DB.Conn(ctx).Exec("UPDATE outbox_tasks SET status = 'done' WHERE status NOT IN ('done', 'failed')").Error; err != nil {
		t.Fatal(err)
	}
	onWire := make(chan struct{}, 1)
	rc := newReceiver(t, false, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			onWire <- struct{}{}
			<-r.Context().Done() // hangs until the worker dies
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	acct, err := account.NewService(pg.DB).CreateAccount(ctx, "Kill", "kill@example.com")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{outbox: jobs.NewOutbox(pg.DB), scope: account.Scope{AccountID: acct.ID, Environment: account.Test}}
	h.svc = webhook.NewService(pg.DB, h.outbox, fastConfig())
	ep := h.create(t, rc.URL)

	startChild := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.timeout=10m")
		cmd.Env = append(os.Environ(), killChildEnv+"="+pg.URL,
			killChildRedis+"=redis://"+rdb.Addr+"/"+strconv.Itoa(rdb.DB))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	child := startChild()
	ev := h.publish(t, webhook.EventEnvelopeCompleted, map[string]string{"id": "env_kill"})
	select {
	case <-onWire:
	case <-time.After(60 * time.Second):
		_ = child.Process.Kill()
		t.Fatal("the child worker made no attempt within 60 s")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed := time.Now()
	d := h.deliveryOf(t, ep.ID, ev.ID)
	if d.Status != webhook.StatusPending || d.Delivery.Attempts != 0 {
		t.Fatalf("after the kill: %s with %d attempts recorded, want PENDING with none", d.Status, d.Delivery.Attempts)
	}

	child = startChild()
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	// Issue 9's goal: work resumes within 15 s of the worker's restart
	// (the task's claim and the chunk's lease each last 10 s unrenewed).
	eventually(t, 15*time.Second, "delivered after restart", func() bool {
		return h.deliveryOf(t, ep.ID, ev.ID).Status == webhook.StatusDelivered
	})
	t.Logf("delivered %s after the kill", time.Since(killed).Round(time.Second))
	if rc.count() < 2 {
		t.Fatalf("receiver got %d requests", rc.count())
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, g := range rc.got {
		if g.header.Get("webhook-id") != ev.ID {
			t.Fatalf("webhook-id %s, want %s on every attempt", g.header.Get("webhook-id"), ev.ID)
		}
	}
}
