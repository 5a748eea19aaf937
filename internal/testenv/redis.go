package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const defaultRedisURL = "redis://127.0.0.1:6379/0"

// Redis is a Redis logical database reserved for one test package. Asynq has
// no key prefix of its own, so isolation is by database number: a lease key in
// database 0 marks a number as taken while a package runs.
type Redis struct {
	Addr   string
	DB     int
	URL    string
	Client *redis.Client

	lease *redis.Client
	key   string
}

// StartRedis reserves a free database (1–15), flushes it and returns it.
func StartRedis(ctx context.Context) (*Redis, error) {
	base := envOr(EnvRedisURL, defaultRedisURL)
	opt, err := redis.ParseURL(base)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", EnvRedisURL, err)
	}
	opt.DB = 0
	lease := redis.NewClient(opt)
	if err := lease.Ping(ctx).Err(); err != nil {
		_ = lease.Close()
		return nil, fmt.Errorf("redis is not reachable at %s (%w); start it with "+
			"`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no` or set %s",
			opt.Addr, err, EnvRedisURL)
	}
	owner := strconv.Itoa(os.Getpid())
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			key := "vellum:testenv:db:" + strconv.Itoa(n)
			ok, err := lease.SetNX(ctx, key, owner, 30*time.Minute).Result()
			if err != nil {
				_ = lease.Close()
				return nil, fmt.Errorf("reserve redis database: %w", err)
			}
			if !ok {
				continue
			}
			dbOpt := *opt
			dbOpt.DB = n
			r := &Redis{Addr: opt.Addr, DB: n, URL: fmt.Sprintf("redis://%s/%d", opt.Addr, n),
				Client: redis.NewClient(&dbOpt), lease: lease, key: key}
			if err := r.Client.FlushDB(ctx).Err(); err != nil {
				r.Close()
				return nil, fmt.Errorf("flush redis database %d: %w", n, err)
			}
			return r, nil
		}
		if time.Now().After(deadline) {
			_ = lease.Close()
			return nil, errors.New("no free redis database (1-15) for tests after 3 minutes; are stale vellum:testenv:db:* keys left in database 0?")
		}
		select {
		case <-ctx.Done():
			_ = lease.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close flushes the database and releases it for other packages.
func (r *Redis) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.Client.FlushDB(ctx).Err()
	_ = r.Client.Close()
	_ = r.lease.Del(ctx, r.key).Err()
	_ = r.lease.Close()
}
