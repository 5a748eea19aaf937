package webhook_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// warnings is a slog handler that keeps every record at Warn or above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	w.mu.Lock()
	w.msgs = append(w.msgs, line)
	w.mu.Unlock()
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// TestDeliver_BatchRunClosesItsTasksWithoutWarnings publishes a batch, lets
// the real dispatcher and worker deliver it, and requires every outbox task
// to finish on its first run: a batch task that fails at its end (as the
// NULL MIN(next_attempt_at) scan once did) stays unfinished and logs a
// warning per retry.
func TestDeliver_BatchRunClosesItsTasksWithoutWarnings(t *testing.T) {
	ctx := context.Background()
	sqlite, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "vellum.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlite.Close() })
	if _, err := sqlite.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*db.DB{pg.DB, sqlite} {
		t.Run(string(d.Dialect()), func(t *testing.T) {
			if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := d.Conn(ctx).Exec("UPDATE outbox_tasks SET status = 'done' WHERE status NOT IN ('done', 'failed')").Error; err != nil {
				t.Fatal(err)
			}
			acct, err := account.NewService(d).CreateAccount(ctx, "Batch "+t.Name(), "owner@example.com")
			if err != nil {
				t.Fatal(err)
			}
			scope := account.Scope{AccountID: acct.ID, Environment: account.Test}
			warned := &warnings{}
			log := slog.New(warned)
			outbox := jobs.NewOutbox(d)
			svc := webhook.NewService(d, outbox, fastConfig())
			dlv := webhook.NewDeliverer(d, outbox, fastConfig(), nil, log)
			rc := newReceiver(t, false, nil)
			if _, err := svc.Create(ctx, scope, webhook.CreateInput{URL: rc.URL}); err != nil {
				t.Fatal(err)
			}
			const n = 20
			if err := d.WithTx(ctx, func(ctx context.Context) error {
				for i := 0; i < n; i++ {
					if err := svc.Publish(ctx, webhook.Event{ID: ident.New("evt"), Type: webhook.EventEnvelopeSent,
						AccountID: acct.ID, Environment: "test", OccurredAt: time.Now().UTC(),
						Data: map[string]string{"id": "env_" + strconv.Itoa(i)}}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			opt := asynq.RedisClientOpt{Addr: rdb.Addr, DB: rdb.DB}
			client := asynq.NewClient(opt)
			disp := jobs.NewDispatcher(d, outbox, client, jobs.DispatcherConfig{Interval: 50 * time.Millisecond}, log)
			dctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); disp.Run(dctx) }()
			w := jobs.NewWorker(d, opt, jobs.WorkerConfig{Concurrency: 4, ShutdownTimeout: 3 * time.Second, Logger: log})
			w.Handle(webhook.TaskDeliver, dlv.Deliver)
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Shutdown(); cancel(); <-done; _ = client.Close() })

			for i := 0; i < n; i++ {
				rc.wait(t, 20*time.Second)
			}
			eventually(t, 20*time.Second, "outbox empty", func() bool {
				left, err := outbox.Unfinished(ctx)
				return err == nil && left == 0
			})
			var undelivered int64
			if err := d.Conn(ctx).Model(&webhook.Delivery{}).Where("status <> ?", webhook.StatusDelivered).
				Count(&undelivered).Error; err != nil {
				t.Fatal(err)
			}
			if undelivered != 0 {
				t.Errorf("%d deliveries not DELIVERED", undelivered)
			}
			if got := warned.all(); len(got) > 0 {
				t.Errorf("a clean delivery run logged %d warnings: %q", len(got), got)
			}
		})
	}
}
