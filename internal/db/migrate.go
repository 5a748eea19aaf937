package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// ErrSchemaBehind means the database lacks migrations this binary needs.
var ErrSchemaBehind = errors.New("database schema is behind this binary: run `vellum migrate`")

// ErrSchemaAhead means the database was migrated by a newer binary.
var ErrSchemaAhead = errors.New("database schema is newer than this binary: upgrade vellum or point it at another database")

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for the dialect, in order.
func (d *DB) Migrations() ([]Migration, error) {
	dir := path.Join("migrations", string(d.dialect))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", name)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`

// Migrate applies every pending migration, each in its own transaction, and
// returns the names applied. Concurrent callers on PostgreSQL serialise on an
// advisory lock, so several instances may start at once.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	migs, err := d.Migrations()
	if err != nil {
		return nil, err
	}
	err = d.WithTx(ctx, func(ctx context.Context) error {
		if err := d.lockMigrations(ctx); err != nil {
			return err
		}
		return d.Conn(ctx).Exec(createVersionTable).Error
	})
	if err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []string
	for _, m := range migs {
		did := false
		err := d.WithTx(ctx, func(ctx context.Context) error {
			conn := d.Conn(ctx)
			if err := d.lockMigrations(ctx); err != nil {
				return err
			}
			var n int64
			if err := conn.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := conn.Exec(m.SQL).Error; err != nil {
				return err
			}
			did = true
			return conn.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if did {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

// lockMigrations serialises migrators on PostgreSQL until the transaction in
// ctx ends; even CREATE TABLE IF NOT EXISTS races without it.
func (d *DB) lockMigrations(ctx context.Context) error {
	if d.dialect != Postgres {
		return nil
	}
	// Arbitrary constant: the lock key of Vellum's migrator.
	return d.Conn(ctx).Exec("SELECT pg_advisory_xact_lock(7342001)").Error
}

// SchemaVersion reports the database's newest applied migration and the
// newest this binary knows.
func (d *DB) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	migs, err := d.Migrations()
	if err != nil {
		return 0, 0, err
	}
	if len(migs) > 0 {
		latest = migs[len(migs)-1].Version
	}
	var exists int64
	q := "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"
	if d.dialect == SQLite {
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	}
	if err := d.gorm.WithContext(ctx).Raw(q).Scan(&exists).Error; err != nil {
		return 0, latest, fmt.Errorf("read schema version: %w", err)
	}
	if exists == 0 {
		return 0, latest, nil
	}
	if err := d.gorm.WithContext(ctx).Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current).Error; err != nil {
		return 0, latest, fmt.Errorf("read schema version: %w", err)
	}
	return current, latest, nil
}

// CheckSchema fails unless the database is at exactly this binary's schema.
func (d *DB) CheckSchema(ctx context.Context) error {
	current, latest, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case current < latest:
		return fmt.Errorf("schema version %d, binary needs %d: %w", current, latest, ErrSchemaBehind)
	case current > latest:
		return fmt.Errorf("schema version %d, binary knows up to %d: %w", current, latest, ErrSchemaAhead)
	}
	return nil
}
