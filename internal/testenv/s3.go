package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vellum-sign/vellum/internal/blob"
)

// EnvS3Binary names a versitygw binary to use instead of bin/versitygw.
const EnvS3Binary = "VELLUM_VERSITYGW"

// S3Server is a real S3 server (versitygw, posix backend in a temporary
// directory) listening on 127.0.0.1, with one empty bucket.
type S3Server struct {
	Endpoint        string // "http://127.0.0.1:PORT"; use path-style addressing
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string

	cmd       *exec.Cmd
	exited    chan struct{}
	dir       string
	closeOnce sync.Once
	closeErr  error
}

// StartS3 starts versitygw on a free port, waits until it answers and creates
// the bucket. Close stops it and removes its data. The binary comes from
// $VELLUM_VERSITYGW, else bin/versitygw at the repository root, which is
// built from test/tools/go.mod on first use.
func StartS3(ctx context.Context) (*S3Server, error) {
	return StartS3WithAccessLog(ctx, "")
}

// StartS3WithAccessLog is StartS3 with versitygw's access log (one line per
// S3 request) written to accessLog, for benchmarks that count requests.
func StartS3WithAccessLog(ctx context.Context, accessLog string) (*S3Server, error) {
	bin, err := s3Binary(ctx)
	if err != nil {
		return nil, err
	}
	var srv *S3Server
	// The port is free when chosen but another process may take it before
	// versitygw binds it; a fresh port on retry settles that race.
	for attempt := 1; ; attempt++ {
		srv, err = s3Launch(ctx, bin, accessLog)
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return nil, fmt.Errorf("start S3 server (versitygw %s): %w", bin, err)
		}
	}
	if err := srv.createBucket(ctx); err != nil {
		srv.Close()
		return nil, err
	}
	return srv, nil
}

// BlobConfig is the blob.S3Config that reaches this server's bucket.
func (s *S3Server) BlobConfig() blob.S3Config {
	return blob.S3Config{
		Endpoint: s.Endpoint, Region: s.Region, Bucket: s.Bucket,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, UsePathStyle: true,
	}
}

// Env is the VELLUM_S3_* configuration that points a vellum process at
// this server's bucket.
func (s *S3Server) Env() []string {
	return []string{
		"VELLUM_BLOB_BACKEND=s3", "VELLUM_S3_ENDPOINT=" + s.Endpoint, "VELLUM_S3_BUCKET=" + s.Bucket,
		"VELLUM_S3_REGION=" + s.Region, "VELLUM_S3_ACCESS_KEY_ID=" + s.AccessKeyID,
		"VELLUM_S3_SECRET_ACCESS_KEY=" + s.SecretAccessKey, "VELLUM_S3_PATH_STYLE=true",
	}
}

// Pid is the versitygw process id.
func (s *S3Server) Pid() int { return s.cmd.Process.Pid }

// Close stops the server's process group and deletes its data directory.
func (s *S3Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.stop()
		if err := os.RemoveAll(s.dir); err != nil && s.closeErr == nil {
			s.closeErr = fmt.Errorf("remove S3 server data: %w", err)
		}
	})
	return s.closeErr
}

func s3Launch(ctx context.Context, bin, accessLog string) (*S3Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vellum-s3-*")
	if err != nil {
		return nil, fmt.Errorf("create S3 data directory: %w", err)
	}
	root := filepath.Join(dir, "buckets")
	if err := os.Mkdir(root, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create S3 data directory: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create S3 server log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	s := &S3Server{
		Endpoint:        "http://127.0.0.1:" + strconv.Itoa(port),
		Region:          "us-east-1",
		Bucket:          "vellum-test",
		AccessKeyID:     "vellumtest",
		SecretAccessKey: "vellumtestsecret",
		exited:          make(chan struct{}),
		dir:             dir,
	}
	args := []string{"--access", s.AccessKeyID, "--secret", s.SecretAccessKey, "--region", s.Region,
		"--port", "127.0.0.1:" + strconv.Itoa(port), "--quiet"}
	if accessLog != "" {
		args = append(args, "--access-log", accessLog)
	}
	s.cmd = exec.Command(bin, append(args, "posix", root)...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = s3ProcAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitReady polls until the server answers HTTP at all (a 403 to an
// unsigned request is an answer).
func (s *S3Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited before answering on %s: %s", s.Endpoint, s.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within %s: %s", s.Endpoint, limit, s.logTail())
		}
	}
}

func (s *S3Server) createBucket(ctx context.Context) error {
	client := s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		return fmt.Errorf("create bucket %s on %s: %w (server log: %s)", s.Bucket, s.Endpoint, err, s.logTail())
	}
	return nil
}

// stop sends SIGTERM to the process group, then SIGKILL if it lingers.
func (s *S3Server) stop() error { return stopGroup(s.cmd, s.exited) }

// stopGroup sends SIGTERM to cmd's process group (started with
// s3ProcAttr), then SIGKILL if it lingers; exited closes when cmd is
// reaped.
func stopGroup(cmd *exec.Cmd, exited <-chan struct{}) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	pgid := -cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", cmd.Path, cmd.Process.Pid)
	}
}

func (s *S3Server) logTail() string { return fileTail(filepath.Join(s.dir, "versitygw.log")) }

// fileTail is the end of a tool's log file, for an error message.
func fileTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "(empty log)"
	}
	return string(b)
}

// s3Binary resolves the versitygw binary, building bin/versitygw once if it
// is missing.
func s3Binary(ctx context.Context) (string, error) {
	return toolBinary(ctx, EnvS3Binary, "versitygw", "github.com/versity/versitygw/cmd/versitygw")
}

// toolBinary resolves a test tool pinned in test/tools/go.mod: $env, else
// bin/name at the repository root, built from pkg once if it is missing.
// `go test ./...` runs packages as parallel processes, so the build is
// serialised by a lock file and the result renamed into place.
func toolBinary(ctx context.Context, env, name, pkg string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	root, err := s3RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("create bin directory: %w", err)
	}
	lock, err := os.OpenFile(bin+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open build lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("take build lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another package built it while we waited
	}
	tmp := bin + ".tmp-" + strconv.Itoa(os.Getpid())
	build := exec.CommandContext(ctx, "go", "build", "-o", tmp, pkg)
	build.Dir = filepath.Join(root, "test", "tools")
	if out, err := build.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build %s (cd test/tools && go build -o ../../bin/%s %s), or set %s: %w\n%s",
			name, name, pkg, env, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return bin, nil
}

// s3RepoRoot walks up from the working directory (a package directory under
// `go test`) to the directory holding test/tools/go.mod.
func s3RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "test", "tools", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no test/tools/go.mod above the working directory; set " + EnvS3Binary)
		}
		dir = parent
	}
}
