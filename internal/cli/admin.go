package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
)

func openDatabase(ctx context.Context, stderr io.Writer, override string) (*db.DB, error) {
	cfg, err := loadConfig(stderr)
	if err != nil {
		return nil, err
	}
	if override != "" {
		cfg.DatabaseURL = override
	}
	if err := cfg.ValidateDatabase(); err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("VELLUM_DATABASE_URL: %w", err)
	}
	return d, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [--database-url URL] [--status]", stderr, false)
	url := fs.String("database-url", "", "database URL (default: $VELLUM_DATABASE_URL)")
	status := fs.Bool("status", false, "print the schema version and exit")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := openDatabase(ctx, stderr, *url)
	if err != nil {
		return err
	}
	defer d.Close()
	if !*status {
		applied, err := d.Migrate(ctx)
		for _, name := range applied {
			fmt.Fprintf(stdout, "applied %s\n", name)
		}
		if err != nil {
			return err
		}
	}
	current, latest, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d (this binary: %d)\n", current, latest)
	return nil
}

func runAccounts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(stdout, "Usage: vellum accounts create --name NAME [--email EMAIL]")
			return nil
		}
		fmt.Fprintln(stderr, "Usage: vellum accounts create --name NAME [--email EMAIL]")
		return errUsage
	}
	fs := newFlagSet("accounts create", "accounts create --name NAME [--email EMAIL]", stderr, false)
	name := fs.String("name", "", "account name (required)")
	email := fs.String("email", "", "contact e-mail")
	url := fs.String("database-url", "", "database URL (default: $VELLUM_DATABASE_URL)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *name == "" {
		fs.Usage()
		return errUsage
	}
	d, err := openDatabase(ctx, stderr, *url)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err != nil {
		return err
	}
	a, err := account.NewService(d).CreateAccount(ctx, *name, *email)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Account: %s\n", a.ID)
	return nil
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "keys create --account ID --env test|live [--name NAME]"
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(stdout, "Usage: vellum "+syn)
			return nil
		}
		fmt.Fprintln(stderr, "Usage: vellum "+syn)
		return errUsage
	}
	fs := newFlagSet("keys create", syn, stderr, false)
	acct := fs.String("account", "", "account id (required)")
	envName := fs.String("env", "test", "environment: test or live")
	name := fs.String("name", "", "key name")
	url := fs.String("database-url", "", "database URL (default: $VELLUM_DATABASE_URL)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *acct == "" {
		fs.Usage()
		return errUsage
	}
	env, err := account.ParseEnvironment(*envName)
	if err != nil {
		return err
	}
	d, err := openDatabase(ctx, stderr, *url)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.CheckSchema(ctx); err != nil {
		return err
	}
	k, secret, err := account.NewService(d).CreateKey(ctx, *acct, env, *name)
	if errors.Is(err, account.ErrNotFound) {
		return fmt.Errorf("no account %s", *acct)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Key: %s\nAPI key: %s\n(shown once: store it now)\n", k.ID, secret)
	return nil
}
