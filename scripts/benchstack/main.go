// Command benchstack runs Vellum the production way on this machine for
// benchmarks, on servers of its own: a PostgreSQL (initdb in a temporary
// directory, pg_stat_statements loaded), a redis-server and a versitygw S3
// server, each on a free loopback port — never the shared ones — then
// `vellum serve` and `vellum worker` processes against them (-api and
// -workers of each, on their own ports). It prints the base URL and a test
// API key as shell exports, runs the command given after "--" with them set
// (VELLUM_BASE_URLS lists every API, VELLUM_SERVE_PID is the first serve
// process), or waits for Ctrl-C, and tears everything down.
//
// Around the command it measures what a completed envelope costs, because
// on a shared machine wall-clock throughput says little: the CPU time of
// every process (/proc/<pid>/stat; PostgreSQL is its postmaster and all its
// backends), PostgreSQL statements (pg_stat_statements) and WAL bytes,
// Redis commands (INFO commandstats), S3 requests and bytes (versitygw's
// access log), each divided by the envelopes COMPLETED meanwhile. With
// -profile DIR it also takes a CPU profile of every serve and worker for the
// command's first -profile-time and prints the CPU by route and task
// label (`go tool pprof -tags`).
//
//	go run ./scripts/benchstack -- go run ./scripts/bench-envelopes -n 200 -c 8
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/testenv"
)

func main() {
	o := options{}
	flag.StringVar(&o.bin, "vellum", "bin/vellum", "vellum binary (make build)")
	flag.IntVar(&o.concurrency, "worker-concurrency", 10, "VELLUM_WORKER_CONCURRENCY")
	flag.IntVar(&o.apis, "api", 1, "serve processes")
	flag.IntVar(&o.workers, "workers", 1, "worker processes")
	flag.StringVar(&o.profile, "profile", "", "directory for CPU profiles of every serve and worker")
	flag.DurationVar(&o.profileFor, "profile-time", 30*time.Second, "length of the CPU profiles")
	flag.IntVar(&o.top, "top", 12, "statements and Redis commands listed by count")
	flag.Parse()
	if err := run(o, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchstack:", err)
		os.Exit(1)
	}
}

type options struct {
	bin                  string
	concurrency          int
	apis, workers        int
	profile              string
	profileFor           time.Duration
	top                  int
	tmp, accessLog, base string
}

// proc is a process whose CPU is accounted.
type proc struct {
	name    string
	pid     int
	tree    bool   // with its children (PostgreSQL's backends)
	metrics string // its VELLUM_METRICS_ADDR listener, for profiles
	cmd     *exec.Cmd
}

func run(o options, cmdArgs []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tmp, err := os.MkdirTemp("", "vellum-benchstack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	o.tmp = tmp

	pgs, err := testenv.StartPostgresServer(filepath.Join(tmp, "pg"), "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
	if err != nil {
		return err
	}
	defer pgs.Stop() //nolint:errcheck // teardown
	rds, err := testenv.StartRedisServer()
	if err != nil {
		return err
	}
	defer rds.Close()
	// testenv's database helpers create the benchmark database (migrated)
	// on these servers.
	os.Setenv(testenv.EnvPostgresURL, pgs.URL)
	os.Setenv(testenv.EnvRedisURL, rds.URL)
	pg, err := testenv.StartPostgres(ctx, "bench")
	if err != nil {
		return err
	}
	defer pg.Close()
	if err := pg.DB.Conn(ctx).Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").Error; err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	rdb, err := testenv.StartRedis(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	o.accessLog = filepath.Join(tmp, "s3-access.log")
	s3, err := testenv.StartS3WithAccessLog(ctx, o.accessLog)
	if err != nil {
		return err
	}
	defer s3.Close()

	var addrs []string
	for i := 0; i < o.apis; i++ {
		p, err := testenv.FreePort()
		if err != nil {
			return err
		}
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	o.base = "http://" + addrs[0]
	env := append(append(os.Environ(), s3.Env()...),
		"VELLUM_DATABASE_URL="+pg.URL, "VELLUM_REDIS_URL="+rdb.URL,
		"VELLUM_PUBLIC_URL="+o.base, "VELLUM_PKI_DIR="+filepath.Join(tmp, "pki"),
		"VELLUM_TSA_BUILTIN=true", "VELLUM_LOG_LEVEL=warn",
		"VELLUM_KEK=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=", "VELLUM_KEK_RECOVERY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", "VELLUM_WEBHOOK_ALLOW_PRIVATE=true", "VELLUM_WEBHOOK_ALLOW_HTTP=true",
		fmt.Sprintf("VELLUM_WORKER_CONCURRENCY=%d", o.concurrency),
		// Benchmarks drive far more than an integrator's 100/min.
		"VELLUM_RATE_LIMIT_PER_MINUTE=0", "VELLUM_IP_RATE_LIMIT_PER_MINUTE=0",
		// Invitations go nowhere; the benchmark signs through the API.
		"VELLUM_MAIL=log",
	)
	output := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, o.bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("vellum %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if _, err := output("pki", "init", "--dir", filepath.Join(tmp, "pki"), "--public-url", o.base); err != nil {
		return err
	}
	out, err := output("accounts", "create", "--name", "Benchmark")
	if err != nil {
		return err
	}
	acct := field(out, "Account:")
	if out, err = output("keys", "create", "--account", acct, "--env", "test"); err != nil {
		return err
	}
	key := field(out, "API key:")

	pgPid, err := pgs.Pid()
	if err != nil {
		return err
	}
	procs := []*proc{{name: "postgres", pid: pgPid, tree: true}, {name: "redis", pid: rds.Pid()}, {name: "versitygw", pid: s3.Pid()}}
	defer func() {
		for _, p := range procs {
			if p.cmd != nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				_ = p.cmd.Wait()
			}
		}
	}()
	start := func(name string, args ...string) error {
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		maddr := fmt.Sprintf("127.0.0.1:%d", port)
		p := exec.Command(o.bin, args...)
		p.Env = append(env, "VELLUM_METRICS_ADDR="+maddr)
		logs, err := p.StderrPipe()
		if err != nil {
			return err
		}
		p.Stdout = os.Stderr
		if err := p.Start(); err != nil {
			return err
		}
		go quiet(logs)
		procs = append(procs, &proc{name: name, pid: p.Process.Pid, metrics: maddr, cmd: p})
		return nil
	}
	var ready []string
	for i, a := range addrs {
		if err := start(fmt.Sprintf("serve-%d", i+1), "serve", "--addr", a); err != nil {
			return err
		}
		ready = append(ready, "http://"+a+"/readyz")
	}
	for i := 0; i < o.workers; i++ {
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		a := fmt.Sprintf("127.0.0.1:%d", port)
		if err := start(fmt.Sprintf("worker-%d", i+1), "worker", "--addr", a); err != nil {
			return err
		}
		ready = append(ready, "http://"+a+"/readyz")
	}
	for _, u := range ready {
		if err := waitReady(ctx, u); err != nil {
			return err
		}
	}
	bases := "http://" + strings.Join(addrs, ",http://")
	fmt.Printf("export VELLUM_BASE_URL=%s\nexport VELLUM_BASE_URLS=%s\nexport VELLUM_API_KEY=%s\n", o.base, bases, key)
	if len(cmdArgs) == 0 {
		fmt.Fprintln(os.Stderr, "stack is up; Ctrl-C to stop")
		<-ctx.Done()
		return nil
	}

	before, err := sample(ctx, procs, pg.DB, rdb.Client, o.accessLog)
	if err != nil {
		return err
	}
	profiles := o.startProfiles(procs)
	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Env = append(os.Environ(), "VELLUM_BASE_URL="+o.base, "VELLUM_BASE_URLS="+bases, "VELLUM_API_KEY="+key,
		fmt.Sprintf("VELLUM_SERVE_PID=%d", procs[3].pid))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmdErr := cmd.Run()
	after, err := sample(ctx, procs, pg.DB, rdb.Client, o.accessLog)
	if err != nil {
		return err
	}
	report(os.Stdout, procs, before, after, o.top)
	for _, done := range profiles {
		<-done
	}
	return cmdErr
}

// startProfiles fetches a CPU profile of every serve and worker into
// o.profile, each finishing on its channel.
func (o options) startProfiles(procs []*proc) []chan struct{} {
	if o.profile == "" {
		return nil
	}
	if err := os.MkdirAll(o.profile, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return nil
	}
	var all []chan struct{}
	for _, p := range procs {
		if p.metrics == "" {
			continue
		}
		done := make(chan struct{})
		all = append(all, done)
		go func(p *proc) {
			defer close(done)
			file := filepath.Join(o.profile, p.name+".pprof")
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.metrics, int(o.profileFor.Seconds()))
			if err := fetch(url, file); err != nil {
				fmt.Fprintf(os.Stderr, "profile %s: %v\n", p.name, err)
				return
			}
			tags, err := exec.Command("go", "tool", "pprof", "-tags", file).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "go tool pprof -tags %s: %v\n%s", file, err, tags)
				return
			}
			fmt.Printf("--- CPU profile of %s (%s, first %s of the run): by label\n%s", p.name, file, o.profileFor, tags)
		}(p)
	}
	return all
}

// quiet copies a process's log to stderr without the line per mail that
// VELLUM_MAIL=log writes at warning level.
func quiet(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "mail not sent (VELLUM_MAIL=log)") {
			fmt.Fprintln(os.Stderr, sc.Text())
		}
	}
}

func fetch(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// snapshot is what a benchmark run is measured by, taken before and after.
type snapshot struct {
	at         time.Time
	cpu        map[string]time.Duration
	completed  int64
	statements map[string]int64 // query text → calls (pg_stat_statements)
	walBytes   int64
	redis      map[string]int64 // command → calls
	s3Requests map[string]int64 // method → requests
	s3Bytes    int64
}

func sample(ctx context.Context, procs []*proc, d *db.DB, rdb *redis.Client, accessLog string) (snapshot, error) {
	s := snapshot{at: time.Now(), cpu: map[string]time.Duration{}, statements: map[string]int64{}, redis: map[string]int64{}}
	for _, p := range procs {
		c, err := testenv.ProcessCPU(p.pid, p.tree)
		if err != nil {
			return s, fmt.Errorf("CPU of %s: %w", p.name, err)
		}
		s.cpu[p.name] = c
	}
	conn := d.Conn(ctx)
	if err := conn.Raw("SELECT count(*) FROM envelopes WHERE status = 'COMPLETED'").Scan(&s.completed).Error; err != nil {
		return s, err
	}
	if err := conn.Raw("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").Scan(&s.walBytes).Error; err != nil {
		return s, err
	}
	var rows []struct {
		Query string
		Calls int64
	}
	if err := conn.Raw("SELECT query, calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&rows).Error; err != nil {
		return s, err
	}
	for _, r := range rows {
		s.statements[r.Query] += r.Calls
	}
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return s, err
	}
	// cmdstat_hget:calls=12,usec=…
	for _, l := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest+",", ',')], 10, 64)
		s.redis[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	s.s3Requests, s.s3Bytes, err = s3Access(accessLog)
	return s, err
}

// s3Access counts versitygw's access log (the S3 server access log format:
// … operation key request-uri status error bytes-sent object-size …):
// requests by S3 operation, and the bytes read (bytes sent) and written
// (object size of puts and part uploads).
func s3Access(file string) (map[string]int64, int64, error) {
	out := map[string]int64{}
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return out, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var bytes int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		i := slices.IndexFunc(fs, func(s string) bool { return strings.HasPrefix(s, "s3_") })
		if i < 0 || len(fs) < i+7 {
			continue // the log's header lines
		}
		op := strings.TrimPrefix(fs[i], "s3_")
		out[op]++
		sent, _ := strconv.ParseInt(fs[i+5], 10, 64)
		size, _ := strconv.ParseInt(fs[i+6], 10, 64)
		bytes += sent
		if strings.Contains(op, "Put") || strings.Contains(op, "Upload") {
			bytes += size
		}
	}
	return out, bytes, sc.Err()
}

func report(w io.Writer, procs []*proc, a, b snapshot, top int) {
	n := b.completed - a.completed
	fmt.Fprintf(w, "--- cost per completed envelope (%d completed in %s; /proc CPU, pg_stat_statements, INFO commandstats, versitygw access log)\n",
		n, b.at.Sub(a.at).Round(time.Millisecond))
	if n == 0 {
		return
	}
	per := func(v float64) float64 { return v / float64(n) }
	var total time.Duration
	for _, p := range procs {
		d := b.cpu[p.name] - a.cpu[p.name]
		total += d
		fmt.Fprintf(w, "cpu %-10s %7.1f ms/envelope  (%s in all)\n", p.name, per(float64(d.Microseconds())/1000), d.Round(10*time.Millisecond))
	}
	totalMS := per(float64(total.Microseconds()) / 1000)
	fmt.Fprintf(w, "cpu total      %7.1f ms/envelope  → ≈ %.0f envelopes/min on 2 idle cores (120,000 CPU-ms per minute / CPU-ms per envelope)\n", totalMS, 120000/totalMS)

	stmts, nStmts := deltas(a.statements, b.statements)
	fmt.Fprintf(w, "postgres       %7.1f statements/envelope, %.0f WAL bytes/envelope\n", per(float64(nStmts)), per(float64(b.walBytes-a.walBytes)))
	for i, s := range stmts {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %6.2f  %.150s\n", per(float64(s.n)), oneLine(s.key))
	}
	cmds, nCmds := deltas(a.redis, b.redis)
	fmt.Fprintf(w, "redis          %7.1f commands/envelope\n", per(float64(nCmds)))
	for i, c := range cmds {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %6.2f  %s\n", per(float64(c.n)), c.key)
	}
	reqs, nReqs := deltas(a.s3Requests, b.s3Requests)
	fmt.Fprintf(w, "s3             %7.1f requests/envelope, %.0f bytes/envelope\n", per(float64(nReqs)), per(float64(b.s3Bytes-a.s3Bytes)))
	for _, r := range reqs {
		fmt.Fprintf(w, "  %6.2f  %s\n", per(float64(r.n)), r.key)
	}
}

type count struct {
	key string
	n   int64
}

// deltas is b−a per key, largest first, and its sum.
func deltas(a, b map[string]int64) ([]count, int64) {
	var out []count
	var sum int64
	for k, v := range b {
		if d := v - a[k]; d > 0 {
			out = append(out, count{k, d})
			sum += d
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out, sum
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func field(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready within 60s", url)
}
