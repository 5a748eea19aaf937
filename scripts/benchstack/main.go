// Command benchstack runs Vellum the production way on this machine for
// benchmarks: a fresh PostgreSQL database, a private Redis database and a
// versitygw S3 server (through internal/testenv), then `vellum serve` and
// `vellum worker` processes against them. It prints the base URL and a test
// API key as shell exports, runs the command given after "--" with them set
// (and VELLUM_SERVE_PID, for measuring the serve process), or waits for
// Ctrl-C, and tears everything down.
//
//	go run ./scripts/benchstack -- go run ./scripts/bench-envelopes -n 100 -c 4
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vellum-sign/vellum/internal/testenv"
)

func main() {
	bin := flag.String("vellum", "bin/vellum", "vellum binary (make build)")
	workers := flag.Int("worker-concurrency", 10, "VELLUM_WORKER_CONCURRENCY")
	flag.Parse()
	if err := run(*bin, *workers, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchstack:", err)
		os.Exit(1)
	}
}

func run(bin string, workers int, cmdArgs []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pg, err := testenv.StartPostgres(ctx, "bench")
	if err != nil {
		return err
	}
	defer pg.Close()
	rdb, err := testenv.StartRedis(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s3, err := testenv.StartS3(ctx)
	if err != nil {
		return err
	}
	defer s3.Close()
	tmp, err := os.MkdirTemp("", "vellum-benchstack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	workerAddr, err := freeAddr()
	if err != nil {
		return err
	}
	base := "http://" + addr
	env := append(append(os.Environ(), s3.Env()...),
		"VELLUM_DATABASE_URL="+pg.URL, "VELLUM_REDIS_URL="+rdb.URL,
		"VELLUM_PUBLIC_URL="+base, "VELLUM_PKI_DIR="+filepath.Join(tmp, "pki"),
		"VELLUM_TSA_BUILTIN=true", "VELLUM_LOG_LEVEL=warn",
		"VELLUM_KEK=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=", "VELLUM_KEK_RECOVERY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=", "VELLUM_WEBHOOK_ALLOW_PRIVATE=true", "VELLUM_WEBHOOK_ALLOW_HTTP=true",
		fmt.Sprintf("VELLUM_WORKER_CONCURRENCY=%d", workers),
		// Benchmarks drive far more than an integrator's 100/min.
		"VELLUM_RATE_LIMIT_PER_MINUTE=0", "VELLUM_IP_RATE_LIMIT_PER_MINUTE=0",
		// Invitations go nowhere; the benchmark signs through the API.
		"VELLUM_MAIL=log",
	)
	output := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("vellum %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if _, err := output("pki", "init", "--dir", filepath.Join(tmp, "pki"), "--public-url", base); err != nil {
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

	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
	}()
	for _, args := range [][]string{{"serve", "--addr", addr}, {"worker", "--addr", workerAddr}} {
		p := exec.Command(bin, args...)
		p.Env = env
		p.Stdout, p.Stderr = os.Stderr, os.Stderr
		if err := p.Start(); err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for _, u := range []string{base + "/readyz", "http://" + workerAddr + "/readyz"} {
		if err := waitReady(ctx, u); err != nil {
			return err
		}
	}
	fmt.Printf("export VELLUM_BASE_URL=%s\nexport VELLUM_API_KEY=%s\n", base, key)
	if len(cmdArgs) == 0 {
		fmt.Fprintln(os.Stderr, "stack is up; Ctrl-C to stop")
		<-ctx.Done()
		return nil
	}
	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Env = append(os.Environ(), "VELLUM_BASE_URL="+base, "VELLUM_API_KEY="+key,
		fmt.Sprintf("VELLUM_SERVE_PID=%d", procs[0].Process.Pid))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func field(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
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
