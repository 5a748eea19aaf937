package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/jobs"
)

func TestWorker_ShutdownLetsTheRunningTaskFinish(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := asynq.RedisClientOpt{Addr: rdb.Addr, DB: rdb.DB}
	ob := jobs.NewOutbox(pg.DB)
	client := asynq.NewClient(opt)
	defer client.Close()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go jobs.NewDispatcher(pg.DB, ob, client, jobs.DispatcherConfig{Interval: 50 * time.Millisecond}, log).Run(dctx)

	started := make(chan struct{})
	w := jobs.NewWorker(pg.DB, opt, jobs.WorkerConfig{Concurrency: 1, ShutdownTimeout: 10 * time.Second, Logger: log})
	w.Handle("test:slow", func(ctx context.Context, d jobs.Delivery) error {
		close(started)
		time.Sleep(time.Second)
		return nil
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
		return ob.Enqueue(ctx, jobs.Task{Type: "test:slow", Key: "shutdown"})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("task never started")
	}
	w.Shutdown() // as on SIGTERM, while the handler sleeps
	st, err := ob.Get(ctx, "test:slow:shutdown")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != jobs.StatusDone {
		t.Fatalf("after Shutdown the in-flight task is %q, want done", st.Status)
	}
}
