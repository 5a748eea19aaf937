package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/vellum-sign/vellum/internal/config"
)

func loadConfig(stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "serve", runOptions{api: true}, args, stderr)
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, "worker", runOptions{worker: true}, args, stderr)
}

func runServer(ctx context.Context, name string, opts runOptions, args []string, stderr io.Writer) error {
	cfg, err := loadConfig(stderr)
	if err != nil {
		return err
	}
	fs := newFlagSet(name, name+" [--addr ADDR]", stderr, true)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (health, readiness and metrics for the worker)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := cfg.ValidateServer(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := newLogger(cfg, os.Stderr).With("process", name)
	a, err := buildApp(ctx, cfg, log, nil, false)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("VELLUM_ADDR: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL)
	return a.run(ctx, ln, opts)
}
