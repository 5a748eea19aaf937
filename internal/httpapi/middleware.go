package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// HeaderOperationID carries the request id on every response (as RemSig).
const HeaderOperationID = "Operation-Id"

type loggerKey struct{}

const operationIDInBodyKey = "operationIdInBody"

// OperationID returns the request id as the integer RemSig's bodies carry
// as operationId, and makes the request's problems carry it too.
func OperationID(c echo.Context) int64 {
	c.Set(operationIDInBodyKey, true)
	id, _ := c.Get("requestID").(string)
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// Logger returns the request-scoped logger carried by ctx (with request_id),
// or the default logger.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// newRequestID returns a random positive integer below 2^53 in decimal:
// RemSig clients read Operation-Id as an integer, and JSON numbers of that
// size survive every parser (JavaScript's included).
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>11|1<<40, 10)
}

// requestContext assigns the request id, puts a logger carrying it in the
// context, logs the request when it ends and recovers panics.
func requestContext(base *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			id := newRequestID()
			c.Response().Header().Set(HeaderOperationID, id)
			c.Set("requestID", id)
			log := base.With("request_id", id)
			req := c.Request()
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), loggerKey{}, log)))
			start := time.Now()
			defer func() {
				if r := recover(); r != nil {
					log.Error("panic serving request", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = NewProblem(http.StatusInternalServerError, "internal_error", "an internal error occurred; quote the traceId when reporting it")
				}
				if err != nil {
					c.Error(err)
				}
				log.Info("request",
					"method", req.Method, "path", redactedPath(c), "route", c.Path(),
					"status", c.Response().Status, "bytes", c.Response().Size,
					"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote_ip", c.RealIP())
			}()
			return next(c)
		}
	}
}

// redactedPath is the request path with a signing token replaced: the token
// is a bearer credential, and logs travel further than the database. It is
// rebuilt from the matched route, segment by segment, so no spelling of the
// token (percent-encoded or not) reaches the log.
func redactedPath(c echo.Context) string {
	route := c.Path()
	switch {
	case route == "/s/*":
		if rest := c.Param("*"); strings.HasPrefix(rest, "assets/") {
			return "/s/" + rest
		}
		return "/s/[token]" // the signing page's own route
	case !strings.Contains(route, ":token"):
		return c.Request().URL.Path
	}
	segs := strings.Split(route, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			if name == "token" {
				segs[i] = "[token]"
			} else {
				segs[i] = c.Param(name)
			}
		}
	}
	return strings.Join(segs, "/")
}

// httpMetrics records request latency by route template and status.
type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vellum_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route template and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})}
	reg.MustRegister(m.duration)
	return m
}

func (m *httpMetrics) middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			var err error
			// The route label splits CPU profiles by endpoint (go tool pprof -tags).
			pprof.Do(c.Request().Context(), pprof.Labels("route", c.Request().Method+" "+c.Path()), func(context.Context) {
				err = next(c)
			})
			if err != nil {
				// Write the error now so the recorded status is the real one.
				c.Error(err)
				err = nil
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			m.duration.WithLabelValues(c.Request().Method, route, strconv.Itoa(c.Response().Status)).
				Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// errorHandler writes every error as application/problem+json.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFor(err)
	if p == nil && unavailable(err) {
		Logger(c.Request().Context()).Warn("dependency unavailable", "err", err)
		p = errUnavailable
		c.Response().Header().Set("Retry-After", unavailableRetryAfter)
	} else if p == nil {
		Logger(c.Request().Context()).Error("unhandled error", "err", err)
		p = NewProblem(http.StatusInternalServerError, "internal_error", "an internal error occurred; quote the traceId when reporting it")
	} else if p.Status >= 500 && p != errUnavailable {
		Logger(c.Request().Context()).Error("server error", "err", err)
	}
	cp := *p
	if id, ok := c.Get("requestID").(string); ok {
		cp.TraceID = id
		if in, _ := c.Get(operationIDInBodyKey).(bool); in {
			n, _ := strconv.ParseInt(id, 10, 64)
			cp.OperationID = &n
		}
	}
	if h, ok := retryAfter(err); ok {
		c.Response().Header().Set("Retry-After", h)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(cp.Status)
		return
	}
	// JSON keeps a Content-Type already set, so the body is problem+json.
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	_ = c.JSON(cp.Status, cp)
}

// retryAfterError lets a handler attach a Retry-After header to a problem.
type retryAfterError interface{ RetryAfter() string }

func retryAfter(err error) (string, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.RetryAfter(), true
	}
	return "", false
}
