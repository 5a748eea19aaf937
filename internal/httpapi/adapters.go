package httpapi

import (
	"net/url"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/vellum-sign/vellum/internal/listing"
)

// What the surfaces that live at other systems' paths (internal/httpapi/…)
// share with the native API: the same JSON decoding and problems, and the
// same Redis rate limiter with their own tables.

// BindJSON decodes a JSON object body into dst as the native API does:
// transport problems as err, unknown fields and wrong types as invalid.
func BindJSON(c echo.Context, dst any, contentTypes ...string) (invalid []InvalidParam, err error) {
	return bindJSON(c, dst, contentTypes...)
}

// FieldProblem answers a domain's field errors as a validation problem and
// passes any other error through.
func FieldProblem(err error) error { return fieldProblem(err) }

// WindowLimit allows N requests per Window, all of which may come at once.
type WindowLimit struct {
	N      int
	Window time.Duration
}

// RateLimiter spends requests against budgets shared by every instance
// through Redis. A surface uses it for limits its own documentation sets.
type RateLimiter struct{ l *limiter }

// NewRateLimiter returns a limiter over rdb; with rdb nil it allows all.
func NewRateLimiter(rdb redis.UniversalClient) *RateLimiter {
	return &RateLimiter{l: newLimiter(rdb, RateLimits{})}
}

// Allow spends one request of bucket under lim. Refused, it returns the 429
// problem (with Retry-After) to hand to the error handler; policy names the
// limit in the RateLimit headers (letters only).
func (r *RateLimiter) Allow(c echo.Context, policy, bucket string, lim WindowLimit) error {
	if r.l == nil || lim.N <= 0 {
		return nil
	}
	return r.l.allowRate(c, policy, bucket, redis_rate.Limit{Rate: lim.N, Burst: lim.N, Period: lim.Window})
}

// CapBody bounds every request body under a surface's group, as the
// native API's body cap does.
func CapBody(n int64) echo.MiddlewareFunc { return capBody(n) }

// ListParams parses offset, limit, sort, createdDateFrom and createdDateTo
// (and reports unknown parameters other than extra) as the native API does.
func ListParams(values url.Values, sortFields []string, extra ...string) (listing.Query, []InvalidParam) {
	return listParams(values, sortFields, extra...)
}

// ToListResponse converts a page with convert into the list envelope.
func ToListResponse[I, T any](q listing.Query, page listing.Page[I], convert func(*I) T) ListResponse[T] {
	return toListResponse(q, page, convert)
}

// MethodNotAllowedOrNotFound is the catch-all of a surface's group: 405 with
// Allow when another method is routed at the path, else 404.
func MethodNotAllowedOrNotFound(e *echo.Echo) echo.HandlerFunc { return methodNotAllowedOrNotFound(e) }

// limiterKey is where New puts the API's limiter in each request's context,
// for surfaces that authenticate on their own.
const limiterKey = "vellum.limiter"

// provide makes the limiter reachable from handlers (LimitKey).
func (l *limiter) provide() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(limiterKey, l)
			return next(c)
		}
	}
}

// LimitCaller spends one request of an authenticated caller's budget (an
// API key's or an OAuth client's id): the per-key limit of /api/v1
// (VELLUM_RATE_LIMIT_*), in the same bucket, so a caller has one budget on
// every surface. Refused, it returns the 429 problem (with Retry-After),
// which the error handler renders in the surface's shape.
func LimitCaller(c echo.Context, callerID string) error {
	l, _ := c.Get(limiterKey).(*limiter)
	if l == nil {
		return nil
	}
	return l.allow(c, "default", "key:"+callerID, l.limits.PerKey)
}

// LimitFailedAuth charges a request whose credentials were missing or
// wrong to its client IP's budget, as /api/v1 does, which slows guessing.
func LimitFailedAuth(c echo.Context) error {
	l, _ := c.Get(limiterKey).(*limiter)
	return l.allowIP(c)
}
