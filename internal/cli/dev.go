//go:build !production

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/alicebob/miniredis/v2"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/config"
)

// runDev runs API, worker and dispatcher in one process over an SQLite file,
// an in-process Redis and a blob directory, all under the data dir.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(stderr)
	if err != nil {
		return err
	}
	fs := newFlagSet("dev", "dev [--addr 127.0.0.1:8080] [--data-dir ./.vellum]", stderr, true)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "where the database, documents and development PKI live")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Addr = *addr
	if _, set := os.LookupEnv("VELLUM_PUBLIC_URL"); !set {
		cfg.PublicURL = "http://" + browsable(cfg.Addr)
	}
	// On a laptop the receiver under test is usually on localhost over http.
	if _, set := os.LookupEnv("VELLUM_WEBHOOK_ALLOW_PRIVATE"); !set {
		cfg.Webhook.AllowPrivate = true
	}
	if _, set := os.LookupEnv("VELLUM_WEBHOOK_ALLOW_HTTP"); !set {
		cfg.Webhook.AllowHTTP = true
	}
	if _, set := os.LookupEnv("VELLUM_LOG_FORMAT"); !set {
		cfg.LogFormat = "text"
	}
	if err := cfg.ValidateDev(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(dataDir, "vellum.db")
	cfg.Blob = config.BlobConfig{Backend: "fs", Dir: filepath.Join(dataDir, "blobs")}
	cfg.PKI.Dir = filepath.Join(dataDir, "pki")
	cfg.PKI.TSABuiltin = true
	if err := devKEK(cfg, dataDir); err != nil {
		return err
	}

	// The in-process Redis starts empty on every run; the outbox in the
	// database is what carries unfinished work across restarts.
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("start embedded redis: %w", err)
	}
	defer mr.Close()
	cfg.RedisURL = "redis://" + mr.Addr()

	log := newLogger(cfg, os.Stderr).With("process", "dev")
	store, err := blob.NewFSStore(cfg.Blob.Dir)
	if err != nil {
		return fmt.Errorf("blob directory: %w", err)
	}
	a, err := buildApp(ctx, cfg, log, store, true)
	if err != nil {
		return err
	}
	defer a.close()
	if _, err := a.db.Migrate(ctx); err != nil {
		return err
	}
	if err := a.initPKI(ctx, true); err != nil {
		return err
	}
	n, err := a.outbox.RequeueUnfinished(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("resuming unfinished tasks from the last run", "tasks", n)
	}
	key, err := devKey(ctx, a.accounts, dataDir, cfg.DevAPIKey)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	fmt.Fprintf(stdout, "Vellum dev is running at %s (data in %s)\nAPI key: %s\n", cfg.PublicURL, dataDir, key)
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	return a.run(ctx, ln, runOptions{api: true, worker: true, dev: true})
}

// devKey returns the development test key: the one given, else the one kept
// in the data dir from an earlier run, else a new one (kept for next time).
func devKey(ctx context.Context, accounts *account.Service, dataDir, given string) (string, error) {
	acct, err := accounts.FirstAccount(ctx)
	if errors.Is(err, account.ErrNotFound) {
		acct, err = accounts.CreateAccount(ctx, "Development", "dev@localhost")
	}
	if err != nil {
		return "", err
	}
	keyFile := filepath.Join(dataDir, "dev-api-key")
	if given == "" {
		if b, err := os.ReadFile(keyFile); err == nil {
			given = strings.TrimSpace(string(b))
		}
	}
	if given != "" {
		if _, err := accounts.ImportKey(ctx, acct.ID, "development", given); err != nil {
			return "", fmt.Errorf("VELLUM_DEV_API_KEY: %w", err)
		}
		return given, nil
	}
	_, secret, err := accounts.CreateKey(ctx, acct.ID, account.Test, "development")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(keyFile, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save development key: %w", err)
	}
	return secret, nil
}

// browsable turns a listen address into one a browser can open.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
