package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
)

// RateLimit is one GCRA limit: PerMinute sustained with bursts up to Burst.
// A zero PerMinute disables the limit.
type RateLimit struct {
	PerMinute int
	Burst     int
}

// RateLimits configures the limiters.
type RateLimits struct {
	// PerKey applies to every authenticated request, by API key.
	PerKey RateLimit
	// PerIP applies to requests without a valid API key (public routes and
	// failed authentication), by client IP.
	PerIP RateLimit
}

// DefaultRateLimits are Certyneo's published limits.
var DefaultRateLimits = RateLimits{PerKey: RateLimit{100, 200}, PerIP: RateLimit{60, 120}}

// limiter counts requests in Redis, so every instance shares the budget.
type limiter struct {
	rl     *redis_rate.Limiter
	limits RateLimits
}

func newLimiter(rdb redis.UniversalClient, limits RateLimits) *limiter {
	if rdb == nil {
		return nil
	}
	return &limiter{rl: redis_rate.NewLimiter(rdb), limits: limits}
}

// rateLimitedError is the 429 problem with its Retry-After.
type rateLimitedError struct {
	*Problem
	retryAfter int
}

func (e rateLimitedError) RetryAfter() string { return strconv.Itoa(e.retryAfter) }
func (e rateLimitedError) Unwrap() error      { return e.Problem }

// allow spends one request of bucket under policy and sets the IETF
// RateLimit headers. It fails open when Redis is unreachable: losing rate
// limiting for a moment is better than refusing every request.
func (l *limiter) allow(c echo.Context, policy, bucket string, lim RateLimit) error {
	if l == nil || lim.PerMinute <= 0 {
		return nil
	}
	return l.allowRate(c, policy, bucket, redis_rate.Limit{Rate: lim.PerMinute, Burst: max(lim.Burst, 1), Period: time.Minute})
}

// allowRate is allow for any GCRA limit.
func (l *limiter) allowRate(c echo.Context, policy, bucket string, limit redis_rate.Limit) error {
	res, err := l.rl.Allow(c.Request().Context(), bucket, limit)
	if err != nil {
		Logger(c.Request().Context()).Warn("rate limiter unavailable; request allowed", "err", err)
		return nil
	}
	h := c.Response().Header()
	h.Set("RateLimit-Policy", fmt.Sprintf(`%q;q=%d;w=%d`, policy, limit.Rate, int(limit.Period.Seconds())))
	h.Set("RateLimit", fmt.Sprintf(`%q;r=%d;t=%d`, policy, res.Remaining, ceilSeconds(res.ResetAfter)))
	if res.Allowed > 0 {
		return nil
	}
	wait := max(ceilSeconds(res.RetryAfter), 1)
	per := map[time.Duration]string{time.Minute: "minute", time.Hour: "hour"}[limit.Period]
	if per == "" {
		per = fmt.Sprintf("%d minutes", int(limit.Period.Minutes()))
	}
	p := NewProblem(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("rate limit exceeded (%d requests per %s, bursts up to %d); retry in %d s", limit.Rate, per, limit.Burst, wait))
	return rateLimitedError{Problem: p, retryAfter: wait}
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// keyRateLimit limits authenticated requests per API key.
func (l *limiter) keyRateLimit() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if k := APIKey(c); k != nil && l != nil {
				if err := l.allow(c, "default", "key:"+k.ID, l.limits.PerKey); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// ipRateLimit limits, per client IP, every request that does not present
// an API key to /api/v1 (those are limited per key once authenticated, and
// charged to the IP when authentication fails). Probes, metrics and the
// operator dashboard are exempt.
func (l *limiter) ipRateLimit() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if l == nil || exemptFromIPLimit(c.Request()) {
				return next(c)
			}
			if err := l.allowIP(c); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func (l *limiter) allowIP(c echo.Context) error {
	if l == nil {
		return nil
	}
	return l.allow(c, "ip", "ip:"+c.RealIP(), l.limits.PerIP)
}

func exemptFromIPLimit(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case p == "/healthz", p == "/readyz", p == "/metrics", strings.HasPrefix(p, "/ops/"), p == "/ops":
		return true
	case strings.HasPrefix(p, "/pki/"), p == "/tsa":
		// Validators fetch OCSP and CRLs, and signing calls the built-in
		// TSA, in bursts; throttling them would break signatures.
		return true
	case strings.HasPrefix(p, "/s/assets/"), strings.HasPrefix(p, "/portal/assets/"):
		// Static, immutable and cached: counting them would spend a
		// signer's allowance on every page view.
		return true
	case strings.HasPrefix(p, "/api/v1/") || p == "/api/v1", strings.HasPrefix(p, "/sign/"):
		// Limited per caller once authenticated (Signicat's /sign/ group
		// too), and charged to the IP when authentication fails.
		return r.Header.Get("Authorization") != ""
	case basicAuthSurface(p):
		// RemSig's operations authenticate with HTTP Basic: limited per
		// key once authenticated, failures charged to the IP
		// (LimitKey, LimitFailedAuth).
		_, _, basic := r.BasicAuth()
		return basic
	}
	return false
}

// basicAuthSurface reports whether p is under RemSig's API, whose
// operations authenticate with HTTP Basic.
func basicAuthSurface(p string) bool {
	for _, prefix := range []string{"/api/certificate/", "/api/sign/", "/api/batch/", "/api/timestamp/", "/api/manage/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
