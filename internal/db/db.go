// Package db opens the relational database (PostgreSQL in production, SQLite in
// `vellum dev`), carries the handle and any open transaction in the context, and
// applies the versioned schema migrations.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is the application's database handle.
type DB struct {
	gorm    *gorm.DB
	dialect Dialect
}

// Open connects to the database named by a URL: postgres://… or postgresql://…
// for PostgreSQL, sqlite://PATH (or sqlite:PATH) for an SQLite file.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	dialect, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var g *gorm.DB
	switch dialect {
	case Postgres:
		g, err = gorm.Open(postgres.Open(dsn), cfg)
	case SQLite:
		if dir := filepath.Dir(strings.SplitN(dsn, "?", 2)[0]); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		var d gorm.Dialector
		if d, err = sqliteDialector(dsn); err != nil {
			return nil, err
		}
		g, err = gorm.Open(d, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == SQLite {
		// SQLite allows one writer; a single connection turns lock contention
		// into queueing inside database/sql instead of SQLITE_BUSY errors.
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return &DB{gorm: g, dialect: dialect}, nil
}

func parseURL(raw string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		if _, err := url.Parse(raw); err != nil {
			return "", "", fmt.Errorf("database URL: %w", err)
		}
		return Postgres, raw, nil
	case strings.HasPrefix(raw, "sqlite://"), strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite://"), "sqlite:")
		if path == "" {
			return "", "", errors.New("database URL: sqlite URL needs a file path (sqlite:///path/to/vellum.db)")
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return SQLite, path + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)", nil
	default:
		return "", "", fmt.Errorf("database URL %q: scheme must be postgres://, postgresql:// or sqlite://", redact(raw))
	}
}

// redact hides a password in a URL so configuration errors can be printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Dialect reports which SQL engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// Close releases the connection pool.
func (d *DB) Close() error {
	sqlDB, err := d.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// SQL exposes the underlying pool for callers that need database/sql.
func (d *DB) SQL() (*sql.DB, error) { return d.gorm.DB() }

// Ping checks the database answers, for readiness probes.
func (d *DB) Ping(ctx context.Context) error {
	sqlDB, err := d.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

type txKey struct{}

type txState struct {
	tx          *gorm.DB
	afterCommit []func()
	id          string
}

// Conn returns the handle to use in ctx: the open transaction if there is one,
// otherwise the pool, bound to ctx.
func (d *DB) Conn(ctx context.Context) *gorm.DB {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx.WithContext(ctx)
	}
	return d.gorm.WithContext(ctx)
}

// InTx reports whether ctx carries an open transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*txState)
	return ok
}

// WithTx runs fn in a transaction carried by the context. A WithTx inside
// another joins the outer transaction, so services compose without knowing who
// opened it. fn's error rolls everything back.
func (d *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if InTx(ctx) {
		return fn(ctx)
	}
	st := &txState{}
	err := d.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st.tx = tx
		return fn(context.WithValue(ctx, txKey{}, st))
	})
	if err != nil {
		return err
	}
	for _, f := range st.afterCommit {
		f()
	}
	return nil
}

// AfterCommit registers f to run once the transaction in ctx commits; outside a
// transaction f runs at once.
func AfterCommit(ctx context.Context, f func()) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		st.afterCommit = append(st.afterCommit, f)
		return
	}
	f()
}

// TxID names the transaction in ctx: the same for every call within it,
// never the same for two transactions (random, so it does not depend on
// the engine's own ids, which restart). Outside a transaction each call
// gets a fresh one.
func TxID(ctx context.Context) string {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok {
		return randomID()
	}
	if st.id == "" {
		st.id = randomID()
	}
	return st.id
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ForUpdate adds SELECT … FOR UPDATE where the dialect has it; SQLite
// serialises writers itself. skipLocked lets concurrent pollers share a queue.
func (d *DB) ForUpdate(q *gorm.DB, skipLocked bool) *gorm.DB {
	if d.dialect != Postgres {
		return q
	}
	l := clause.Locking{Strength: clause.LockingStrengthUpdate}
	if skipLocked {
		l.Options = clause.LockingOptionsSkipLocked
	}
	return q.Clauses(l)
}
