package db_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	if pg, err = testenv.StartEmptyPostgres(context.Background(), "db"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// dialects runs f against a fresh PostgreSQL database and a fresh SQLite file.
func dialects(t *testing.T, f func(t *testing.T, d *db.DB)) {
	t.Run("postgres", func(t *testing.T) {
		p, err := testenv.StartEmptyPostgres(context.Background(), "db_"+t.Name())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		f(t, p.DB)
	})
	t.Run("sqlite", func(t *testing.T) {
		d, err := db.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "v.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		f(t, d)
	})
}

func TestMigrate_AppliesEachMigrationOnceAndSchemaChecksFollow(t *testing.T) {
	dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.CheckSchema(ctx); !errors.Is(err, db.ErrSchemaBehind) {
			t.Fatalf("empty database: CheckSchema = %v, want ErrSchemaBehind", err)
		}
		migs, err := d.Migrations()
		if err != nil || len(migs) == 0 {
			t.Fatalf("Migrations() = %d, %v", len(migs), err)
		}
		applied, err := d.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != len(migs) {
			t.Fatalf("applied %v, want all %d", applied, len(migs))
		}
		again, err := d.Migrate(ctx)
		if err != nil || len(again) != 0 {
			t.Fatalf("second Migrate applied %v (err %v), want nothing", again, err)
		}
		if err := d.CheckSchema(ctx); err != nil {
			t.Fatalf("migrated database: %v", err)
		}
		if err := d.Conn(ctx).Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99999, 'future', CURRENT_TIMESTAMP)").Error; err != nil {
			t.Fatal(err)
		}
		if err := d.CheckSchema(ctx); !errors.Is(err, db.ErrSchemaAhead) {
			t.Fatalf("newer database: CheckSchema = %v, want ErrSchemaAhead", err)
		}
	})
}

func TestMigrate_ConcurrentCallersApplyOnce(t *testing.T) {
	ctx := context.Background()
	p, err := testenv.StartEmptyPostgres(ctx, "db_concurrent")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			d, err := db.Open(ctx, p.URL)
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			_, err = d.Migrate(ctx)
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	var n int64
	if err := p.DB.Conn(ctx).Raw("SELECT COUNT(*) FROM schema_migrations").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	migs, _ := p.DB.Migrations()
	if n != int64(len(migs)) {
		t.Fatalf("%d rows in schema_migrations, want %d", n, len(migs))
	}
}

func TestWithTx_NestedCallsJoinAndRollBackTogether(t *testing.T) {
	dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Conn(ctx).Exec("CREATE TABLE t (v INTEGER)").Error; err != nil {
			t.Fatal(err)
		}
		committed := 0
		err := d.WithTx(ctx, func(ctx context.Context) error {
			if !db.InTx(ctx) {
				t.Error("InTx false inside WithTx")
			}
			db.AfterCommit(ctx, func() { committed++ })
			if err := d.Conn(ctx).Exec("INSERT INTO t VALUES (1)").Error; err != nil {
				return err
			}
			return d.WithTx(ctx, func(ctx context.Context) error {
				if err := d.Conn(ctx).Exec("INSERT INTO t VALUES (2)").Error; err != nil {
					return err
				}
				return errors.New("inner failure")
			})
		})
		if err == nil {
			t.Fatal("WithTx swallowed the inner error")
		}
		var n int64
		d.Conn(ctx).Raw("SELECT COUNT(*) FROM t").Scan(&n)
		if n != 0 || committed != 0 {
			t.Fatalf("after rollback: %d rows, %d after-commit hooks run; want 0 and 0", n, committed)
		}

		err = d.WithTx(ctx, func(ctx context.Context) error {
			db.AfterCommit(ctx, func() { committed++ })
			return d.Conn(ctx).Exec("INSERT INTO t VALUES (3)").Error
		})
		if err != nil {
			t.Fatal(err)
		}
		d.Conn(ctx).Raw("SELECT COUNT(*) FROM t").Scan(&n)
		if n != 1 || committed != 1 {
			t.Fatalf("after commit: %d rows, %d hooks; want 1 and 1", n, committed)
		}
	})
}

func TestOpen_RejectsUnknownSchemesAndUnreachableServers(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"mysql://x/y", "sqlite://", "", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"} {
		if d, err := db.Open(ctx, url); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
}

// TestMigrate_RecipientsAcceptOIDC checks migration 0150's widened CHECK in
// both dialects, on a connection of the pool that may have cached the old
// schema: OIDC is stored, an unknown method still is not.
func TestMigrate_RecipientsAcceptOIDC(t *testing.T) {
	dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		conn := d.Conn(ctx)
		now := time.Now().UTC()
		if err := conn.Exec(`INSERT INTO accounts (id, name, email, created_at) VALUES ('acct_1', 'A', 'a@example.com', ?)`, now).Error; err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(`INSERT INTO envelopes (id, account_id, environment, status, subject, message, signing_order,
			sign_text, external_reference, metadata, redirects, url_ttl, url_ttl_seconds, current_order, void_reason,
			audit_trail_key, package_key, version, created_at, updated_at)
			VALUES ('env_1', 'acct_1', 'test', 'DRAFT', 's', '', 'PARALLEL', '', '', '{}', '{}', '', 0, 1, '', '', '', 1, ?, ?)`, now, now).Error; err != nil {
			t.Fatal(err)
		}
		insert := func(id, method string) error {
			return conn.Exec(`INSERT INTO envelope_recipients (id, envelope_id, position, email, name, role, routing_order,
				auth_method, status, auth_provider) VALUES (?, 'env_1', 1, 'a@example.com', 'A', 'SIGNER', 1, ?, 'PENDING', 'testid')`,
				id, method).Error
		}
		if err := insert("rcp_1", "OIDC"); err != nil {
			t.Errorf("OIDC recipient: %v", err)
		}
		if err := insert("rcp_2", "PASSWORD"); err == nil {
			t.Error("a recipient with auth_method PASSWORD was stored")
		}
	})
}
