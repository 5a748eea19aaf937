// Package testenv gives each test package its own real services: a freshly
// migrated PostgreSQL database, a private Redis database and an S3 server.
// Nothing is mocked; when a service is missing the helpers fail with the
// command that starts it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Env var names that point the harness at other servers.
const (
	EnvPostgresURL = "VELLUM_TEST_DATABASE_URL"
	EnvRedisURL    = "VELLUM_TEST_REDIS_URL"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// uniqueName builds a lower-case identifier safe for database names.
func uniqueName(label string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	label = nonIdent.ReplaceAllString(strings.ToLower(label), "_")
	if len(label) > 30 {
		label = label[:30]
	}
	return "vellum_test_" + label + "_" + hex.EncodeToString(b)
}

// Services is one test package's PostgreSQL database and Redis database.
type Services struct {
	PG    *Postgres
	Redis *Redis
}

// StartServices starts the package's PostgreSQL database (named after
// label) and reserves its Redis database; Close releases both.
func StartServices(ctx context.Context, label string) (*Services, error) {
	pg, err := StartPostgres(ctx, label)
	if err != nil {
		return nil, err
	}
	rdb, err := StartRedis(ctx)
	if err != nil {
		pg.Close()
		return nil, err
	}
	return &Services{PG: pg, Redis: rdb}, nil
}

// Close releases the Redis database and drops the PostgreSQL database.
func (s *Services) Close() {
	s.Redis.Close()
	s.PG.Close()
}

// Clock is a settable time source for the clock options of the services
// under test: the wall clock moved by an offset, or stopped at an instant.
type Clock struct {
	mu      sync.Mutex
	offset  time.Duration
	stopped time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped.IsZero() {
		return c.stopped
	}
	return time.Now().Add(c.offset)
}

// Shift makes the clock run offset away from the wall clock.
func (c *Clock) Shift(offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.stopped = offset, time.Time{}
}

// Stop makes the clock read t until it is changed again.
func (c *Clock) Stop(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = t
}

// Advance moves the clock by d from where it reads now.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped.IsZero() {
		c.stopped = c.stopped.Add(d)
		return
	}
	c.offset += d
}
