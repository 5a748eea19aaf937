package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PostgresServer is a PostgreSQL server of its own (initdb in a directory of
// the caller's), for scripts that stop, restart or measure it: the shared
// server on 5432 is never touched. Settings are extra `-c name=value`
// server options (e.g. "shared_preload_libraries=pg_stat_statements").
type PostgresServer struct {
	Dir      string
	Port     int
	URL      string // the postgres database as the postgres superuser
	settings []string
}

// StartPostgresServer runs initdb in dir (created if missing) and starts the
// server on a free loopback port, fsync off: it is a benchmark or fault
// rig, not a store. Run as root, dir goes to the postgres user and its
// parent becomes traversable (0711). Stop it with Stop.
func StartPostgresServer(dir string, settings ...string) (*PostgresServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &PostgresServer{Dir: dir, Port: port, settings: settings,
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if os.Geteuid() == 0 {
		// initdb refuses root; the directory goes to the postgres user,
		// who must be able to reach it through its parent.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			return nil, err
		}
		if out, err := exec.Command("chown", "-R", "postgres", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %w: %s", err, out)
		}
	}
	if out, err := p.command("initdb", "-D", dir, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	if err := p.Ctl("start"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PostgresServer) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// Ctl runs pg_ctl action (start, stop, restart) on this server with its
// port and settings, waiting for it to finish.
func (p *PostgresServer) Ctl(action string, args ...string) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.Port, p.Dir)
	for _, s := range p.settings {
		opts += " -c " + s
	}
	all := append([]string{"-D", p.Dir, "-w", "-l", filepath.Join(p.Dir, "log"), "-o", opts, action}, args...)
	if out, err := p.command("pg_ctl", all...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", action, err, out)
	}
	return nil
}

// Stop stops the server at once (immediate mode).
func (p *PostgresServer) Stop() error { return p.Ctl("stop", "-m", "immediate") }

// Pid is the postmaster's process id (from postmaster.pid).
func (p *PostgresServer) Pid() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.Dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// RedisServer is a redis-server of its own on a free loopback port, without
// persistence.
type RedisServer struct {
	Port int
	URL  string // database 0
	cmd  *exec.Cmd
}

// StartRedisServer starts redis-server and waits until it accepts
// connections. Stop it with Close.
func StartRedisServer() (*RedisServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := &RedisServer{Port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, os.Stderr
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			_ = c.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Close()
	return nil, errors.New("redis-server did not start")
}

// Pid is redis-server's process id.
func (r *RedisServer) Pid() int { return r.cmd.Process.Pid }

// Close kills the server.
func (r *RedisServer) Close() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// FreePort is a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
