package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/config"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/websession"
)

// openKeyring opens the configured key-encryption keys (nil without any);
// the returned closers release PKCS #11 sessions.
func openKeyring(c config.KEKConfig, token config.PKCS11Config) (*person.Keyring, []func(), error) {
	if !c.Configured() {
		return nil, nil, nil
	}
	var closers []func()
	open := func(name, value, labelName, label string) (person.KEK, error) {
		if value != "" {
			k, err := person.ParseKEK(value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return k, nil
		}
		a, err := pki.OpenPKCS11AEAD(pki.PKCS11Config{Module: token.Module, TokenLabel: token.TokenLabel, PIN: token.PIN, KeyLabel: label})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", labelName, err)
		}
		closers = append(closers, func() { _ = a.Close() })
		return person.NewAEADKey(a), nil
	}
	kek, err := open("VELLUM_KEK", c.Key, "VELLUM_KEK_PKCS11_LABEL", c.KeyLabel)
	if err != nil {
		return nil, nil, err
	}
	rec, err := open("VELLUM_KEK_RECOVERY", c.Recovery, "VELLUM_KEK_RECOVERY_PKCS11_LABEL", c.RecoveryLabel)
	if err != nil {
		for _, f := range closers {
			f()
		}
		return nil, nil, err
	}
	return &person.Keyring{KEK: kek, Recovery: rec}, closers, nil
}

// newPersonService builds the person service and refuses to go on when the
// configured keys cannot open the private keys the database holds (or
// none are configured while it holds some).
func newPersonService(ctx context.Context, cfg *config.Config, database *db.DB, ca *pki.PKI) (*person.Service, []func(), error) {
	keys, closers, err := openKeyring(cfg.KEK, cfg.PKCS11)
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		for _, f := range closers {
			f()
		}
	}
	svc, err := person.NewService(database, ca, keys, person.Config{})
	if err == nil {
		err = svc.CheckKeys(ctx)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return svc, closers, nil
}

// buildPersons builds persons, their certificates and the portal sessions
// once the PKI exists.
func (a *app) buildPersons(ctx context.Context) error {
	svc, closers, err := newPersonService(ctx, a.cfg, a.db, a.pki)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, closers...)
	a.persons = svc
	a.sessions = websession.New(a.db, websession.Config{Lifetime: a.cfg.Portal.SessionLifetime, IdleTimeout: a.cfg.Portal.SessionIdleTimeout})
	return a.buildBatches()
}

// devKEK gives `vellum dev` key-encryption keys kept in its data dir
// (created on first start), unless the environment sets them.
func devKEK(cfg *config.Config, dataDir string) error {
	if cfg.KEK.Configured() {
		return nil
	}
	for _, k := range []struct {
		file string
		dst  *string
	}{{"kek", &cfg.KEK.Key}, {"kek-recovery", &cfg.KEK.Recovery}} {
		path := filepath.Join(dataDir, k.file)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			s, gerr := person.NewKEKString()
			if gerr != nil {
				return gerr
			}
			if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
				return fmt.Errorf("save development key-encryption key: %w", err)
			}
			b = []byte(s)
		} else if err != nil {
			return fmt.Errorf("read development key-encryption key: %w", err)
		}
		*k.dst = strings.TrimSpace(string(b))
	}
	return nil
}

const personsUsage = `Usage:
  vellum persons create --unique-id ID --email EMAIL --name NAME [--national-id ID] [--password-stdin]
  vellum persons certificates issue --person ID [--type PERSONAL|SEAL|SERVER] [--validity-days 365]
                                    [--algorithm ECDSA-P256|RSA-3072] [--primary] --pin-stdin

Common flags: [--account ID] [--env test|live] [--data-dir DIR | --database-url URL]
  --account defaults to the oldest account (the one vellum dev created).
  --data-dir uses the database, PKI and key-encryption keys of vellum dev's data directory;
  otherwise VELLUM_DATABASE_URL, VELLUM_PKI_DIR, VELLUM_PUBLIC_URL and VELLUM_KEK… apply.
Passwords and PINs are read from the first line of standard input, never from flags.`

// runPersons is `vellum persons`: the native API's person routes for the
// command line.
func runPersons(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) >= 1 && args[0] == "create":
		return personsCreate(ctx, args[1:], stdout, stderr)
	case len(args) >= 2 && args[0] == "certificates" && args[1] == "issue":
		return personsIssue(ctx, args[2:], stdout, stderr)
	case len(args) >= 1 && (args[0] == "--help" || args[0] == "-h"):
		fmt.Fprintln(stdout, personsUsage)
		return nil
	}
	fmt.Fprintln(stderr, personsUsage)
	return errUsage
}

// personsFlags are the flags every persons subcommand shares.
type personsFlags struct {
	account, env, dataDir, databaseURL *string
}

func addPersonsFlags(fs interface {
	String(name, value, usage string) *string
}) personsFlags {
	return personsFlags{
		account:     fs.String("account", "", "account id (default: the oldest account)"),
		env:         fs.String("env", "test", "environment: test or live"),
		dataDir:     fs.String("data-dir", "", "use vellum dev's data directory (database, PKI, keys)"),
		databaseURL: fs.String("database-url", "", "database URL (default: $VELLUM_DATABASE_URL)"),
	}
}

// personsContext is what a persons subcommand works with.
type personsContext struct {
	db      *db.DB
	persons *person.Service
	scope   account.Scope
	close   func()
}

func openPersons(ctx context.Context, f personsFlags, needPKI bool, stderr io.Writer) (*personsContext, error) {
	cfg, err := loadConfig(stderr)
	if err != nil {
		return nil, err
	}
	env, err := account.ParseEnvironment(*f.env)
	if err != nil {
		return nil, err
	}
	if *f.dataDir != "" {
		dir, err := filepath.Abs(*f.dataDir)
		if err != nil {
			return nil, err
		}
		cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "vellum.db")
		cfg.PKI.Dir = filepath.Join(dir, "pki")
		if err := devKEK(cfg, dir); err != nil {
			return nil, err
		}
	}
	if *f.databaseURL != "" {
		cfg.DatabaseURL = *f.databaseURL
	}
	if err := cfg.ValidateDatabase(); err != nil {
		return nil, err
	}
	if err := cfg.KEK.Validate(); err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("VELLUM_DATABASE_URL: %w", err)
	}
	pc := &personsContext{db: d, close: func() { _ = d.Close() }}
	fail := func(err error) (*personsContext, error) { pc.close(); return nil, err }
	if err := d.CheckSchema(ctx); err != nil {
		return fail(err)
	}
	accounts := account.NewService(d)
	acct := *f.account
	if acct == "" {
		a, err := accounts.FirstAccount(ctx)
		if err != nil {
			return fail(fmt.Errorf("no account: create one with `vellum accounts create` (%w)", err))
		}
		acct = a.ID
	} else if _, err := accounts.GetAccount(ctx, acct); err != nil {
		return fail(fmt.Errorf("no account %s", acct))
	}
	pc.scope = account.Scope{AccountID: acct, Environment: env}
	var ca *pki.PKI
	if needPKI {
		if cfg.PKI.Dir == "" {
			return fail(errors.New("VELLUM_PKI_DIR: required to issue certificates (or --data-dir)"))
		}
		var tokenClosers []func()
		ca, tokenClosers, err = loadPKI(ctx, cfg, pki.WithStore(pki.NewDBStore(d)))
		if err != nil {
			return fail(fmt.Errorf("VELLUM_PKI_DIR: %w", err))
		}
		pc.close = func() {
			for _, c := range tokenClosers {
				c()
			}
			_ = d.Close()
		}
	}
	svc, closers, err := newPersonService(ctx, cfg, d, ca)
	if err != nil {
		return fail(err)
	}
	pc.persons = svc
	closeRest := pc.close
	pc.close = func() {
		for _, c := range closers {
			c()
		}
		closeRest()
	}
	return pc, nil
}

// readSecretLine reads one line of standard input (a password or PIN).
func readSecretLine(what string) (string, error) {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read %s from standard input: %w", what, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no %s on standard input", what)
	}
	return line, nil
}

func personsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("persons create", "persons create --unique-id ID --email EMAIL --name NAME [--national-id ID] [--password-stdin] [flags]", stderr, false)
	uniqueID := fs.String("unique-id", "", "the integrator's identifier, unique in the account (required)")
	email := fs.String("email", "", "e-mail address, unique across the deployment (required)")
	name := fs.String("name", "", "full name (required)")
	nationalID := fs.String("national-id", "", "national identifier (IIN, birth number…)")
	passwordStdin := fs.Bool("password-stdin", false, "read the certificate portal password from standard input")
	f := addPersonsFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	in := person.CreateInput{UniqueID: *uniqueID, Email: *email, Name: *name, NationalID: *nationalID}
	if *passwordStdin {
		pw, err := readSecretLine("password")
		if err != nil {
			return err
		}
		in.Password = pw
	}
	pc, err := openPersons(ctx, f, false, stderr)
	if err != nil {
		return err
	}
	defer pc.close()
	p, err := pc.persons.Create(ctx, pc.scope, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Person: %s\n", p.ID)
	return nil
}

func personsIssue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("persons certificates issue", "persons certificates issue --person ID [--type T] [--validity-days N] [--algorithm A] [--primary] --pin-stdin [flags]", stderr, false)
	personID := fs.String("person", "", "person id (required)")
	typ := fs.String("type", "PERSONAL", "PERSONAL, SEAL or SERVER")
	days := fs.Int("validity-days", 365, "lifetime in days")
	alg := fs.String("algorithm", pki.KeyECDSAP256, "ECDSA-P256 or RSA-3072")
	primary := fs.Bool("primary", false, "make it the person's primary certificate")
	pinStdin := fs.Bool("pin-stdin", false, "read the certificate's password (PIN) from standard input (required)")
	f := addPersonsFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *personID == "" || !*pinStdin {
		fs.Usage()
		return errUsage
	}
	pin, err := readSecretLine("PIN")
	if err != nil {
		return err
	}
	pc, err := openPersons(ctx, f, true, stderr)
	if err != nil {
		return err
	}
	defer pc.close()
	c, err := pc.persons.IssueCertificate(ctx, pc.scope, *personID, person.IssueInput{Type: person.Type(*typ), PIN: pin,
		Validity: time.Duration(*days) * 24 * time.Hour, Algorithm: *alg, Primary: *primary})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Certificate: %s\nIndex: %d\nSerial: %s\nSubject: %s\nNot after: %s\n",
		c.ID, c.Index, c.SerialNumber, c.Subject, c.NotAfter.Format(time.RFC3339))
	return nil
}
