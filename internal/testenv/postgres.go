package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"time"

	"github.com/vellum-sign/vellum/internal/db"
)

const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Postgres is a private, migrated PostgreSQL database for one test package.
type Postgres struct {
	DB   *db.DB
	URL  string
	Name string

	admin *db.DB
}

// StartPostgres creates a new database named after label, applies every
// migration and returns it; Close drops it.
func StartPostgres(ctx context.Context, label string) (*Postgres, error) {
	return startPostgres(ctx, label, true)
}

// StartEmptyPostgres creates a new database without applying migrations.
func StartEmptyPostgres(ctx context.Context, label string) (*Postgres, error) {
	return startPostgres(ctx, label, false)
}

func startPostgres(ctx context.Context, label string, migrate bool) (*Postgres, error) {
	adminURL := envOr(EnvPostgresURL, defaultPostgresURL)
	admin, err := db.Open(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable at %s (%w); start it with "+
			"`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set %s",
			adminURL, err, EnvPostgresURL)
	}
	name := uniqueName(label)
	if err := admin.Conn(ctx).Exec("CREATE DATABASE " + name).Error; err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("create test database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("parse %s: %w", EnvPostgresURL, err)
	}
	u.Path = "/" + name
	p := &Postgres{URL: u.String(), Name: name, admin: admin}
	p.DB, err = db.Open(ctx, p.URL)
	if err != nil {
		p.Close()
		return nil, err
	}
	if !migrate {
		return p, nil
	}
	if _, err := p.DB.Migrate(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	return p, nil
}

// Close drops the database and releases connections.
func (p *Postgres) Close() {
	if p.DB != nil {
		_ = p.DB.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = p.admin.Conn(ctx).Exec("DROP DATABASE IF EXISTS " + p.Name + " WITH (FORCE)").Error
	_ = p.admin.Close()
}

// Dump is every row of the database as `pg_dump --data-only --inserts`
// writes it: what a stolen backup holds, for tests that look for secrets
// at rest.
func (p *Postgres) Dump() ([]byte, error) {
	out, err := exec.Command("pg_dump", "--data-only", "--inserts", "--dbname", p.URL).Output()
	if err != nil {
		return nil, fmt.Errorf("pg_dump (Debian package postgresql-client): %w", err)
	}
	return out, nil
}
