package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Body read deadlines. A request body must keep arriving: within
// bodyGrace of the request's start plus one second per bodyMinRate bytes
// already received, and never more than bodyIdle after the previous read.
// A client trickling a byte every few seconds holds its connection for
// about bodyGrace, not indefinitely; a 50 MB upload at 1 MB/s never comes
// close to the limit.
var (
	bodyGrace = 10 * time.Second
	bodyIdle  = 30 * time.Second
)

const bodyMinRate = 1024 // bytes per second, on average

// errBodyTimeout is what reading a body that stopped arriving returns; the
// handlers' read-error paths hand it on as the 408 it is.
var errBodyTimeout = NewProblem(http.StatusRequestTimeout, "request_timeout",
	"the request body did not arrive in time; send it at a steady pace")

// bodyDeadline puts the deadlines on every request body, through the
// connection's read deadline (http.ResponseController), so even a read
// blocked in the kernel ends. A timed-out request closes its connection.
func bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		rc := http.NewResponseController(c.Response().Writer)
		b := &deadlineBody{ReadCloser: r.Body, rc: rc, start: time.Now()}
		if err := b.arm(); err != nil {
			// Not a connection with deadlines (HTTP/2 test recorders): no limit.
			return next(c)
		}
		r.Body = b
		err := next(c)
		if b.done() {
			// Read to the end: the connection is idle again, under the
			// server's own timeouts. A body left unread keeps the deadline,
			// which bounds the server draining it.
			_ = rc.SetReadDeadline(time.Time{})
		}
		if b.timedOut() {
			c.Response().Header().Set(echo.HeaderConnection, "close")
			if !c.Response().Committed {
				return errBodyTimeout
			}
		}
		return err
	}
}

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time

	mu      sync.Mutex
	n       int64
	eof     bool
	expired bool
}

// arm sets the read deadline for the next read.
func (b *deadlineBody) arm() error {
	b.mu.Lock()
	n := b.n
	b.mu.Unlock()
	d := b.start.Add(bodyGrace + time.Duration(n)*time.Second/bodyMinRate)
	if idle := time.Now().Add(bodyIdle); idle.Before(d) {
		d = idle
	}
	return b.rc.SetReadDeadline(d)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	_ = b.arm()
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.expired = true
		err = errBodyTimeout
	}
	b.mu.Unlock()
	return n, err
}

func (b *deadlineBody) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof
}

func (b *deadlineBody) timedOut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expired
}

// bodyProblem is the problem of a failed body read when the failure is the
// body deadline, else nil.
func bodyProblem(err error) *Problem {
	if errors.Is(err, errBodyTimeout) {
		return errBodyTimeout
	}
	return nil
}
