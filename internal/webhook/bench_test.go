package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// The benchmarks run the production path end to end: Publish commits the
// delivery rows and outbox tasks (one per endpoint and transaction) in
// PostgreSQL, the dispatcher relays them to Redis, the Asynq worker runs
// Deliver, which claims the endpoint's due messages in chunks, signs and
// POSTs each to a fast receiver on loopback and records the chunk's
// attempts.
//
//	go test -run '^$' -bench Deliver -benchtime 5000x ./internal/webhook/
//
// VELLUM_BENCH_CONCURRENCY sets the worker's concurrency (default 32),
// VELLUM_BENCH_RATE the steady event rate of the latency benchmark
// (default 200/s) and VELLUM_BENCH_SECONDS its duration (default 10).

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// fastReceiver answers 204 at once and counts arrivals by webhook-id.
type fastReceiver struct {
	*httptest.Server
	n       atomic.Int64
	mu      sync.Mutex
	arrived map[string]time.Time
	done    chan struct{}
	want    int64
}

func newFastReceiver(b *testing.B, want int64) *fastReceiver {
	fr := &fastReceiver{arrived: make(map[string]time.Time, want), done: make(chan struct{}), want: want}
	fr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id := r.Header.Get("webhook-id")
		fr.mu.Lock()
		_, dup := fr.arrived[id]
		if !dup {
			fr.arrived[id] = now
		}
		fr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		if !dup && fr.n.Add(1) == fr.want {
			close(fr.done)
		}
	}))
	b.Cleanup(fr.Close)
	return fr
}

// stackCPU sums the CPU time used so far by this process, the PostgreSQL
// backends serving this package's database and Redis (Linux /proc; 0
// elsewhere). Other packages' backends on the shared server are left out.
func stackCPU() time.Duration {
	var pids []int
	if err := pg.DB.Conn(context.Background()).Raw("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").
		Scan(&pids).Error; err != nil {
		return 0
	}
	want := map[string]bool{strconv.Itoa(os.Getpid()): true}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open || !want[e.Name()] && st[open+1:end] != "redis-server" {
			continue
		}
		f := strings.Fields(st[end+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + stt
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func benchHarness(b *testing.B, concurrency int) *harness {
	cfg := fastConfig()
	cfg.EndpointConcurrency = concurrency
	return start(b, cfg, concurrency, nil)
}

// BenchmarkDeliver_Throughput commits b.N events (100 per transaction) to
// one endpoint with the worker stopped, then starts the dispatcher and the
// worker and reports how fast they drain the backlog: deliveries per
// second, relay and HTTP attempt and bookkeeping included. published/s is
// the rate of the Publish transactions alone.
func BenchmarkDeliver_Throughput(b *testing.B) {
	conc := benchEnv("VELLUM_BENCH_CONCURRENCY", 32)
	cfg := fastConfig()
	cfg.EndpointConcurrency = conc
	h := newHarness(b, cfg, nil)
	fr := newFastReceiver(b, int64(b.N))
	h.create(b, fr.URL)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += 100 {
		err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
			for j := i; j < min(i+100, b.N); j++ {
				if err := h.svc.Publish(ctx, webhook.Event{ID: ident.New("evt"), Type: webhook.EventEnvelopeCompleted,
					AccountID: h.scope.AccountID, Environment: "test", OccurredAt: time.Now(),
					Data: map[string]any{"id": "env_" + strconv.Itoa(j), "status": "COMPLETED"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	published := time.Since(start)
	cpu0 := stackCPU()
	start = time.Now()
	h.run(b, conc)
	select {
	case <-fr.done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("only %d of %d delivered", fr.n.Load(), b.N)
	}
	elapsed := time.Since(start)
	cpu := stackCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	if cpu > 0 {
		// CPU of this process, PostgreSQL and Redis per delivery: on a
		// shared machine, what the work costs, whatever else is running.
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/delivery")
	}
	b.ReportMetric(float64(b.N)/published.Seconds(), "published/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDeliver_Latency publishes events one per transaction at a
// steady rate and reports the time from each state change (its
// transaction's start, the event's occurredAt) to its first attempt
// reaching the receiver: commit and relay included, nothing clamped. Run
// it with -benchtime 1x: its length is VELLUM_BENCH_SECONDS, not b.N.
func BenchmarkDeliver_Latency(b *testing.B) {
	conc := benchEnv("VELLUM_BENCH_CONCURRENCY", 32)
	rate := benchEnv("VELLUM_BENCH_RATE", 200)
	secs := benchEnv("VELLUM_BENCH_SECONDS", 10)
	total := rate * secs
	h := benchHarness(b, conc)
	fr := newFastReceiver(b, int64(total))
	h.create(b, fr.URL)
	ctx := context.Background()
	committed := make(map[string]time.Time, total)
	var mu sync.Mutex
	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		<-tick.C
		wg.Add(1)
		// Publishers run concurrently, as API requests do, so one slow
		// commit does not hold back the rate.
		go func(i int) {
			defer wg.Done()
			id := ident.New("evt")
			// The state change happens when its transaction begins; the
			// clock starts there, so commit time counts as latency.
			at := time.Now()
			err := pg.DB.WithTx(ctx, func(ctx context.Context) error {
				return h.svc.Publish(ctx, webhook.Event{ID: id, Type: webhook.EventEnvelopeSent,
					AccountID: h.scope.AccountID, Environment: "test", OccurredAt: at,
					Data: map[string]any{"id": "env_" + strconv.Itoa(i), "status": "SENT"}})
			})
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			committed[id] = at
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	select {
	case <-fr.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d delivered", fr.n.Load(), total)
	}
	b.StopTimer()
	fr.mu.Lock()
	defer fr.mu.Unlock()
	lat := make([]time.Duration, 0, total)
	for id, c := range committed {
		if a, ok := fr.arrived[id]; ok {
			lat = append(lat, a.Sub(c))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d events at %d/s: p50 %s p99 %s max %s", len(lat), rate, pct(0.5), pct(0.99), lat[len(lat)-1])
}
