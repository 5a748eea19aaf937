package httpapi

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 answered
// while a dependency is down: about how long a PostgreSQL restart or a
// Redis failover takes.
const unavailableRetryAfter = "5"

// errUnavailable is the problem of a request that failed because
// PostgreSQL or Redis did not answer: nothing about the request was wrong,
// and the same request may succeed shortly.
var errUnavailable = NewProblem(http.StatusServiceUnavailable, "service_unavailable",
	"a backing service (database or queue) is unavailable; retry shortly")

// unavailable reports whether err is a dependency being unreachable or
// going away (connection refused or reset, PostgreSQL shutting down or
// refusing connections, Redis closed) rather than anything the request did.
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 connection exception; 57P01–57P03 shutdown, crash
		// recovery, cannot connect now; 53300 too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" ||
			pe.Code == "57P03" || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var oe *net.OpError
	return errors.As(err, &ce) || errors.As(err, &oe) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, redis.ErrPoolTimeout) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed")
}
