// Command chaos is the fault run of issue 9: `vellum serve` and `vellum
// worker` against their own PostgreSQL (initdb in a temporary directory),
// Redis (redis-server on a free port) and versitygw, N envelopes of one
// document and two signers driven through the API, and in the middle of
// them a kill -9 of the worker, a FLUSHALL of that Redis and a restart of
// that PostgreSQL. It then checks that every envelope completed, that each
// signed document holds exactly one signature per signer, and that the
// outbox is empty, and prints how long each fault took to recover from:
// from the worker's restart, Redis's flush or PostgreSQL's return until
// every task that was unfinished at the fault was back in play (claimed,
// relayed or taken over again) and until each had run again (which
// includes waiting behind the backlog on this machine's cores).
//
// It never touches the shared PostgreSQL or Redis.
//
//	make build && go run ./scripts/chaos -n 120
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/testenv"
)

func main() {
	bin := flag.String("vellum", "bin/vellum", "vellum binary (make build)")
	n := flag.Int("n", 120, "envelopes")
	conc := flag.Int("c", 6, "envelopes in flight at once")
	pgDown := flag.Duration("pg-down", 8*time.Second, "how long PostgreSQL stays stopped")
	flag.Parse()
	r := &run{bin: *bin, n: *n, conc: *conc, pgDown: *pgDown}
	err := r.main()
	r.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

type run struct {
	bin      string
	n, conc  int
	pgDown   time.Duration
	tmp      string
	pg       *testenv.PostgresServer
	redis    *testenv.RedisServer
	s3       *testenv.S3Server
	env      []string
	base     string
	key      string
	serve    *exec.Cmd
	worker   *exec.Cmd
	hc       *http.Client
	db       *db.DB
	done     atomic.Int64 // envelopes whose signers have all signed
	cleanups []func()
}

func (r *run) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *run) main() error {
	ctx := context.Background()
	var err error
	if r.tmp, err = os.MkdirTemp("", "vellum-chaos-"); err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, func() { _ = os.RemoveAll(r.tmp) })
	if err := r.startPostgres(); err != nil {
		return err
	}
	if err := r.startRedis(); err != nil {
		return err
	}
	if r.s3, err = testenv.StartS3(ctx); err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, func() { _ = r.s3.Close() })
	if err := r.setup(); err != nil {
		return err
	}
	if r.db, err = db.Open(ctx, r.pg.URL); err != nil {
		return err
	}
	r.serve, err = r.start("serve", "--addr", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		return err
	}
	if err := r.startWorker(); err != nil {
		return err
	}
	if err := waitReady(r.base + "/readyz"); err != nil {
		return err
	}

	pdf, err := samplePDF()
	if err != nil {
		return err
	}
	r.hc = &http.Client{Timeout: 2 * time.Minute}
	start := time.Now()
	ids := make([]string, r.n)
	errs := make(chan error, r.n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < r.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id, err := r.envelope(i, pdf)
				ids[i] = id
				if err != nil {
					errs <- fmt.Errorf("envelope %d: %w", i, err)
				}
			}
		}()
	}
	go func() {
		for i := 0; i < r.n; i++ {
			jobs <- i
		}
		close(jobs)
	}()

	var results []string
	waitDone := func(frac float64) {
		for r.done.Load() < int64(frac*float64(r.n)) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Fault 1: kill -9 of the worker while it works; restart it 3 s later.
	waitDone(0.2)
	before, err := r.unfinished()
	if err != nil {
		return err
	}
	_ = r.worker.Process.Signal(syscall.SIGKILL)
	_ = r.worker.Wait()
	time.Sleep(3 * time.Second)
	if err := r.startWorker(); err != nil {
		return err
	}
	t0 := time.Now()
	results = append(results, r.recovered("worker kill -9 (restarted after 3 s)", before, t0))

	// Fault 2: FLUSHALL of this run's own Redis.
	waitDone(0.45)
	if before, err = r.unfinished(); err != nil {
		return err
	}
	if out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.redis.Port), "FLUSHALL").CombinedOutput(); err != nil {
		return fmt.Errorf("FLUSHALL: %w: %s", err, out)
	}
	t0 = time.Now()
	results = append(results, r.recovered("Redis FLUSHALL", before, t0))

	// Fault 3: this run's PostgreSQL stopped for pgDown, then started.
	waitDone(0.7)
	if before, err = r.unfinished(); err != nil {
		return err
	}
	if err := r.pg.Ctl("stop", "-m", "fast"); err != nil {
		return err
	}
	time.Sleep(r.pgDown)
	if err := r.pg.Ctl("start"); err != nil {
		return err
	}
	t0 = time.Now()
	results = append(results, r.recovered(fmt.Sprintf("PostgreSQL restart (down %s)", r.pgDown), before, t0))

	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	fmt.Printf("%d envelopes driven in %s\n", r.n, time.Since(start).Round(time.Second))
	for _, l := range results {
		fmt.Println(l)
	}
	return r.check(ids)
}

// state is what the outbox said of a task at a fault.
type state struct {
	status                     string
	attempts, relays, takeover int
}

// requeued reports whether a task unfinished at a fault (was) is back in
// play (now): finished, claimed again, relayed again or taken over.
func requeued(was state, now state, open bool) bool {
	return !open || now.attempts > was.attempts || now.relays > was.relays || now.takeover > was.takeover
}

// unfinished returns the tasks not done, with their attempts so far.
func (r *run) unfinished() (map[string]state, error) {
	var rows []struct {
		ID                          string
		Status                      string
		Attempts, Relays, Takeovers int
	}
	err := r.db.Conn(context.Background()).Raw(`SELECT id, status, attempts, relays, takeovers FROM outbox_tasks
		WHERE status NOT IN ('done', 'failed') AND run_at <= ?`, time.Now().UTC()).Scan(&rows).Error
	out := map[string]state{}
	for _, x := range rows {
		out[x.ID] = state{x.Status, x.Attempts, x.Relays, x.Takeovers}
	}
	return out, err
}

// recovered measures, from t0 (the worker's restart, the flush, the
// database's return), how long until every task unfinished at the fault
// was back in play (claimed, relayed or taken over again, or finished) and
// how long until each had run again (claimed once more, or finished): the
// second includes waiting behind the backlog on this machine's cores.
func (r *run) recovered(what string, before map[string]state, t0 time.Time) string {
	waiting := len(before)
	var inPlay time.Duration
	deadline := t0.Add(10 * time.Minute)
	for waiting > 0 && time.Now().Before(deadline) {
		now, err := r.unfinished()
		if err != nil {
			time.Sleep(200 * time.Millisecond) // the database may still be coming back
			continue
		}
		stuck := 0
		waiting = 0
		for id, was := range before {
			n, open := now[id]
			if !requeued(was, n, open) {
				stuck++
			}
			if open && n.attempts <= was.attempts {
				waiting++
			}
		}
		if stuck == 0 && inPlay == 0 {
			inPlay = time.Since(t0)
		}
		if waiting > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if took := time.Since(t0); took > 15*time.Second {
		r.explain(what, before, t0)
	}
	if waiting > 0 {
		return fmt.Sprintf("%-36s NOT recovered: %d of %d tasks still waiting after 10 min", what, waiting, len(before))
	}
	return fmt.Sprintf("%-36s %3d tasks unfinished at the fault: all back in play after %5s, all run again after %s",
		what, len(before), inPlay.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond))
}

// explain prints, for a slow recovery, how each task of the fault went on.
func (r *run) explain(what string, before map[string]state, t0 time.Time) {
	if os.Getenv("VELLUM_CHAOS_EXPLAIN") == "" {
		return
	}
	for id, s := range before {
		var x struct {
			Status    string
			Attempts  int
			Takeovers int
			LastError string
			UpdatedAt time.Time
			RunAt     time.Time
		}
		_ = r.db.Conn(context.Background()).Raw("SELECT status, attempts, takeovers, last_error, updated_at, run_at FROM outbox_tasks WHERE id = ?", id).Scan(&x).Error
		fmt.Fprintf(os.Stderr, "%s: %s was %s/%d, now %s/%d takeovers %d updated +%s run_at %s err %.200q\n", what, id, s.status, s.attempts,
			x.Status, x.Attempts, x.Takeovers, x.UpdatedAt.Sub(t0).Round(100*time.Millisecond), x.RunAt.Format(time.TimeOnly), x.LastError)
	}
}

// check verifies the end state.
func (r *run) check(ids []string) error {
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Minute)
	var problems []string
	for _, id := range ids {
		var env struct {
			Status     string
			Recipients []struct{ ID, Status string }
		}
		for {
			if err := r.call(http.MethodGet, "/api/v1/envelopes/"+id, nil, http.StatusOK, &env); err == nil && env.Status == "COMPLETED" {
				break
			}
			if time.Now().After(deadline) {
				problems = append(problems, fmt.Sprintf("%s: %s, not COMPLETED", id, env.Status))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if env.Status != "COMPLETED" {
			continue
		}
		pdf, err := r.get("/api/v1/envelopes/" + id + "/signed-document")
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: signed document: %v", id, err))
			continue
		}
		var ids []string
		for _, rc := range env.Recipients {
			ids = append(ids, rc.ID)
		}
		counts, err := testenv.SignaturesPerRecipient(pdf, ids...)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: verify: %v", id, err))
			continue
		}
		for _, rid := range ids {
			if n := counts[rid]; n != 1 {
				problems = append(problems, fmt.Sprintf("%s: recipient %s has %d signatures, want 1", id, rid, n))
			}
		}
	}
	// The outbox drains once every envelope is final (mails, webhooks).
	var open, failed int64
	for {
		_ = r.db.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE status NOT IN ('done', 'failed')").Scan(&open).Error
		if open == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	_ = r.db.Conn(ctx).Raw("SELECT COUNT(*) FROM outbox_tasks WHERE status = 'failed'").Scan(&failed).Error
	if open != 0 || failed != 0 {
		problems = append(problems, fmt.Sprintf("outbox: %d unfinished, %d failed tasks", open, failed))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	fmt.Printf("all %d envelopes COMPLETED, one signature per signer in each signed document, outbox empty (0 failed)\n", len(ids))
	return nil
}

// envelope drives one envelope: upload, create, send, both signers sign.
// Every call is retried through the faults; POSTs carry an Idempotency-Key.
func (r *run) envelope(i int, pdf []byte) (string, error) {
	var doc struct{ ID string }
	if err := r.retry(func(key string) error { return r.upload(pdf, key, &doc) }); err != nil {
		return "", fmt.Errorf("upload: %w", err)
	}
	var env struct{ ID string }
	body := map[string]any{
		"subject": fmt.Sprintf("Chaos %d", i), "documentIds": []string{doc.ID},
		"recipients": []map[string]any{
			{"email": fmt.Sprintf("a%d@chaos.test", i), "name": "Signer A", "role": "SIGNER"},
			{"email": fmt.Sprintf("b%d@chaos.test", i), "name": "Signer B", "role": "SIGNER"},
		},
	}
	if err := r.retry(func(key string) error {
		return r.post("/api/v1/envelopes", key, body, http.StatusCreated, &env)
	}); err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	var sent struct {
		Recipients []struct {
			SignURL string `json:"signUrl"`
		}
	}
	if err := r.retry(func(key string) error {
		return r.post("/api/v1/envelopes/"+env.ID+"/send", key, nil, http.StatusOK, &sent)
	}); err != nil {
		return env.ID, fmt.Errorf("send: %w", err)
	}
	for _, rc := range sent.Recipients {
		tok := rc.SignURL[strings.LastIndex(rc.SignURL, "/s/")+3:]
		err := r.retry(func(string) error {
			err := r.callKey(http.MethodPost, "/api/v1/signer/"+tok+"/sign", "", "", map[string]any{
				"consent": true, "signature": map[string]any{"type": "typed", "text": "Signer"}}, http.StatusOK, nil)
			var se statusErr
			if errors.As(err, &se) && se.status == http.StatusConflict {
				return nil // signed by an earlier try whose answer was lost
			}
			return err
		})
		if err != nil {
			return env.ID, fmt.Errorf("sign: %w", err)
		}
	}
	r.done.Add(1)
	return env.ID, nil
}

type statusErr struct {
	status int
	msg    string
}

func (e statusErr) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.status, e.msg) }

// retry runs f until it succeeds or fails with a 4xx other than 409/429,
// for up to 10 minutes; f gets the same idempotency key every time.
func (r *run) retry(f func(key string) error) error {
	key := ident.New("chaos")
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := f(key)
		var se statusErr
		if err == nil || errors.As(err, &se) && se.status >= 400 && se.status < 500 && se.status != http.StatusConflict && se.status != http.StatusTooManyRequests {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *run) upload(pdf []byte, idemKey string, out any) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "contract.pdf")
	_, _ = fw.Write(pdf)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, r.base+"/api/v1/documents", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+r.key)
	req.Header.Set("Idempotency-Key", idemKey)
	return r.send(req, http.StatusCreated, out)
}

func (r *run) post(path, idemKey string, body any, want int, out any) error {
	return r.callKey(http.MethodPost, path, r.key, idemKey, body, want, out)
}

func (r *run) call(method, path string, body any, want int, out any) error {
	return r.callKey(method, path, r.key, "", body, want, out)
}

func (r *run) callKey(method, path, apiKey, idemKey string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	return r.send(req, want, out)
}

func (r *run) get(path string) ([]byte, error) {
	req, _ := http.NewRequest(http.MethodGet, r.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, statusErr{resp.StatusCode, string(b)}
	}
	return b, err
}

func (r *run) send(req *http.Request, want int, out any) error {
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return statusErr{resp.StatusCode, string(raw)}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// --- the private stack ------------------------------------------------------

func (r *run) startPostgres() (err error) {
	if r.pg, err = testenv.StartPostgresServer(filepath.Join(r.tmp, "pg")); err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, func() { _ = r.pg.Stop() })
	return nil
}

func (r *run) startRedis() (err error) {
	if r.redis, err = testenv.StartRedisServer(); err != nil {
		return err
	}
	r.cleanups = append(r.cleanups, r.redis.Close)
	return nil
}

func (r *run) setup() error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	r.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	pki := filepath.Join(r.tmp, "pki")
	r.env = append(append(os.Environ(), r.s3.Env()...),
		"VELLUM_DATABASE_URL="+r.pg.URL, "VELLUM_REDIS_URL="+r.redis.URL,
		"VELLUM_PUBLIC_URL="+r.base, "VELLUM_PKI_DIR="+pki, "VELLUM_TSA_BUILTIN=true", "VELLUM_LOG_LEVEL=warn",
		"VELLUM_LOG_FORMAT=text", "VELLUM_RATE_LIMIT_PER_MINUTE=0", "VELLUM_IP_RATE_LIMIT_PER_MINUTE=0",
		"VELLUM_MAIL=log",
		// serve and worker refuse to start without key-encryption keys.
		"VELLUM_KEK=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=", "VELLUM_KEK_RECOVERY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
	)
	out := func(args ...string) (string, error) {
		cmd := exec.Command(r.bin, args...)
		cmd.Env = r.env
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("vellum %s: %w\n%s", strings.Join(args, " "), err, b)
		}
		return string(b), nil
	}
	if _, err := out("migrate"); err != nil {
		return err
	}
	if _, err := out("pki", "init", "--dir", pki, "--public-url", r.base); err != nil {
		return err
	}
	o, err := out("accounts", "create", "--name", "Chaos")
	if err != nil {
		return err
	}
	if o, err = out("keys", "create", "--account", field(o, "Account:"), "--env", "test"); err != nil {
		return err
	}
	r.key = field(o, "API key:")
	return nil
}

func (r *run) start(args ...string) (*exec.Cmd, error) {
	p := exec.Command(r.bin, args...)
	p.Env = r.env
	logf, err := os.OpenFile(filepath.Join(r.tmp, args[0]+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	p.Stdout, p.Stderr = logf, logf
	if err := p.Start(); err != nil {
		return nil, err
	}
	r.cleanups = append(r.cleanups, func() {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
		_ = logf.Close()
	})
	return p, nil
}

func (r *run) startWorker() error {
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	r.worker, err = r.start("worker", "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	return waitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
}

func field(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func waitReady(url string) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within 90s", url)
}

func samplePDF() ([]byte, error) {
	d := pdfreport.New("Chaos contract")
	d.Title("Chaos contract")
	for i := 0; i < 30; i++ {
		d.Para("The parties agree to the terms set out in this fault-run document.")
	}
	return d.Bytes()
}
