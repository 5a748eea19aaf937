// Package e2e holds black-box tests of the built vellum binary: real
// processes, real HTTP, real PostgreSQL, Redis and S3.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var vellumBin string

func TestMain(m *testing.M) {
	vellumBin = os.Getenv("VELLUM_BIN")
	var tmp string
	if vellumBin == "" {
		var err error
		tmp, err = os.MkdirTemp("", "vellum-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		vellumBin = filepath.Join(tmp, "vellum")
		build := exec.Command("go", "build", "-o", vellumBin, "github.com/vellum-sign/vellum/cmd/vellum")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build vellum:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// proc is a running vellum process with its output captured.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	lines  chan string
	done   chan struct{}
	err    error
}

type syncWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// start runs vellum with args and env (added to a minimal environment).
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBinary(t, vellumBin, env, args...)
}

// startBinary is start with another build of vellum.
func startBinary(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, lines: make(chan string, 100), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stderr = syncWriter{&p.mu, &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("vellum %s stderr:\n%s", strings.Join(args, " "), p.Stderr())
		}
	})
	return p
}

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLine returns the first stdout line with prefix.
func (p *proc) waitLine(prefix string, within time.Duration) string {
	p.t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		case <-p.done:
			// Every line is in the channel before done closes, and select
			// picks at random when both are ready: a quick command's last
			// lines are still to be read here.
			for drained := false; !drained; {
				select {
				case l := <-p.lines:
					if strings.HasPrefix(l, prefix) {
						return strings.TrimSpace(strings.TrimPrefix(l, prefix))
					}
				default:
					drained = true
				}
			}
			p.t.Fatalf("vellum exited (%v) before printing %q; stderr:\n%s", p.err, prefix, p.Stderr())
		case <-timer.C:
			p.t.Fatalf("no %q line within %s", prefix, within)
		}
	}
}

// stop sends SIGTERM and returns the exit error.
func (p *proc) stop(within time.Duration) error {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		p.t.Fatalf("vellum did not exit within %s of SIGTERM", within)
		return nil
	}
}

// wait returns when the process exits by itself.
func (p *proc) wait(within time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		p.t.Fatalf("vellum did not exit within %s", within)
		return nil
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHTTP polls url until it answers want.
func waitHTTP(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within %s (last: %v)", url, want, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, url, bearer string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// testKEK are key-encryption keys for serve and worker, which refuse to
// start without them.
var testKEK = []string{"VELLUM_KEK=q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=",
	"VELLUM_KEK_RECOVERY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="}
