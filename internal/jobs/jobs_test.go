package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/testenv"
)

var (
	pg  *testenv.Postgres
	rdb *testenv.Redis
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		runCrashChild(path)
	}
	if os.Getenv(hangChildDB) != "" {
		runHangChild()
	}
	svc, err := testenv.StartServices(context.Background(), "jobs")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pg, rdb = svc.PG, svc.Redis
	code := m.Run()
	svc.Close()
	os.Exit(code)
}

// proxy is a TCP forwarder to Redis that a test can cut and restore, to make
// Redis unreachable without stopping the shared server.
type proxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.up.Store(true)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				_ = c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// cut refuses new connections and breaks the open ones.
func (p *proxy) cut() {
	p.up.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() { p.up.Store(true) }

// effects records each handler's database effect; the tests count rows.
func createEffects(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := pg.DB.Conn(ctx).Exec("CREATE TABLE " + name + " (task_key TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
}

type harness struct {
	outbox *jobs.Outbox
	runs   sync.Map // key -> *atomic.Int32 handler invocations that did work
}

// start runs a dispatcher and a worker whose "test:effect" handler writes one
// effects row per task inside jobs.Complete.
func start(t *testing.T, ctx context.Context, redisAddr, table string, delay time.Duration, log *slog.Logger) *harness {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opt := asynq.RedisClientOpt{Addr: redisAddr, DB: rdb.DB, DialTimeout: 500 * time.Millisecond}
	h := &harness{outbox: jobs.NewOutbox(pg.DB)}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	disp := jobs.NewDispatcher(pg.DB, h.outbox, client, jobs.DispatcherConfig{Interval: 100 * time.Millisecond, RelayAfter: time.Second}, log)
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); disp.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-done })

	w := jobs.NewWorker(pg.DB, opt, jobs.WorkerConfig{Concurrency: 4, ShutdownTimeout: 5 * time.Second, Logger: log})
	w.Handle("test:effect", func(ctx context.Context, d jobs.Delivery) error {
		time.Sleep(delay)
		err := jobs.Complete(ctx, pg.DB, func(ctx context.Context) error {
			return pg.DB.Conn(ctx).Exec("INSERT INTO "+table+" (task_key, at) VALUES (?, ?)", d.ID, time.Now()).Error
		})
		if err == nil {
			v, _ := h.runs.LoadOrStore(d.ID, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
		}
		return err
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return h
}

// commitStateChanges commits n "state changes", each with its task, in one
// transaction per change, as services do.
func commitStateChanges(t *testing.T, ctx context.Context, h *harness, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
			return h.outbox.Enqueue(ctx, jobs.Task{Type: "test:effect", Key: fmt.Sprintf("%s-%03d", prefix, i), Payload: map[string]int{"i": i}})
		})
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
}

// waitExactlyOnce waits until every task is done and checks each left
// exactly one effect.
func waitExactlyOnce(t *testing.T, ctx context.Context, table, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var done int64
		if err := pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE ? AND status = 'done'", "test:effect:"+prefix+"-%").Scan(&done).Error; err != nil {
			t.Fatal(err)
		}
		if done == int64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d tasks done after 60s", done, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	type row struct {
		TaskKey string
		N       int
	}
	var rows []row
	if err := pg.DB.Conn(ctx).Raw("SELECT task_key, COUNT(*) AS n FROM " + table + " GROUP BY task_key").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("effects for %d distinct tasks, want %d", len(rows), n)
	}
	for _, r := range rows {
		if r.N != 1 {
			t.Errorf("task %s took effect %d times, want exactly once", r.TaskKey, r.N)
		}
	}
}

func TestOutbox_SurvivesRedisOutageDuringCommits(t *testing.T) {
	ctx := context.Background()
	createEffects(t, ctx, "effects_outage")
	p := newProxy(t, rdb.Addr)
	p.cut()
	relayFailed := &signal{msg: "outbox relay failing", ch: make(chan struct{})}
	h := start(t, ctx, p.addr(), "effects_outage", 0, slog.New(relayFailed))

	const n = 40
	commitStateChanges(t, ctx, h, "outage", n)
	// Redis is unreachable: once the dispatcher has tried and failed, every
	// committed task must still be waiting in the database.
	select {
	case <-relayFailed.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the dispatcher never reported failing to relay")
	}
	var pending int64
	if err := pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE 'test:effect:outage-%' AND status = 'pending'").Scan(&pending).Error; err != nil {
		t.Fatal(err)
	}
	if pending != n {
		t.Fatalf("%d tasks pending during the outage, want %d", pending, n)
	}

	p.restore()
	waitExactlyOnce(t, ctx, "effects_outage", "outage", n)
}

func TestOutbox_SurvivesRedisFlushMidRun(t *testing.T) {
	ctx := context.Background()
	createEffects(t, ctx, "effects_flush")
	h := start(t, ctx, rdb.Addr, "effects_flush", 50*time.Millisecond, nil)

	const n = 60
	commitStateChanges(t, ctx, h, "flush", n)
	// Let some tasks finish, then lose everything Redis holds, as a Redis
	// without persistence does when it restarts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done int64
		_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM effects_flush").Scan(&done).Error
		if done >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no task finished within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rdb.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var unfinished int64
	_ = pg.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE id LIKE 'test:effect:flush-%' AND status <> 'done'").Scan(&unfinished).Error
	if unfinished == 0 {
		t.Fatal("every task finished before the flush; the test proves nothing")
	}
	waitExactlyOnce(t, ctx, "effects_flush", "flush", n)
}

func TestOutbox_SameTaskCommittedTwiceRunsOnce(t *testing.T) {
	ctx := context.Background()
	createEffects(t, ctx, "effects_dup")
	h := start(t, ctx, rdb.Addr, "effects_dup", 0, nil)
	commitStateChanges(t, ctx, h, "dup", 10)
	commitStateChanges(t, ctx, h, "dup", 10)
	waitExactlyOnce(t, ctx, "effects_dup", "dup", 10)
}

func TestOutbox_RolledBackStateChangeLeavesNoTask(t *testing.T) {
	ctx := context.Background()
	ob := jobs.NewOutbox(pg.DB)
	err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
		if err := ob.Enqueue(ctx, jobs.Task{Type: "test:effect", Key: "rolledback"}); err != nil {
			return err
		}
		return fmt.Errorf("state change refused")
	})
	if err == nil {
		t.Fatal("transaction should fail")
	}
	if _, err := ob.Get(ctx, "test:effect:rolledback"); err == nil {
		t.Fatal("task of a rolled-back transaction was recorded")
	}
}

func TestTask_RejectsMissingKeyAndUnknownQueue(t *testing.T) {
	ob := jobs.NewOutbox(pg.DB)
	ctx := context.Background()
	for _, tc := range []jobs.Task{{Type: "x"}, {Key: "y"}, {Type: "x", Key: "y", Queue: "nope"}} {
		if err := ob.Enqueue(ctx, tc); err == nil {
			t.Errorf("Enqueue(%+v) succeeded", tc)
		}
	}
}

// signal is a slog handler that closes ch the first time msg is logged.
type signal struct {
	msg  string
	ch   chan struct{}
	once sync.Once
}

func (s *signal) Enabled(context.Context, slog.Level) bool { return true }
func (s *signal) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, s.msg) {
		s.once.Do(func() { close(s.ch) })
	}
	return nil
}
func (s *signal) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *signal) WithGroup(string) slog.Handler      { return s }
