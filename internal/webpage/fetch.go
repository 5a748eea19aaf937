package webpage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Response is the answer to an in-process API request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// forwarded are the visitor's headers an in-process request carries, so
// the API sees the visitor (address for per-IP limits and audit events,
// user agent, language, cookies of a logged-in person), not the server.
var forwarded = []string{"User-Agent", "X-Forwarded-For", "X-Real-Ip", "Forwarded", "X-Forwarded-Proto", "Accept-Language", "Cookie"}

// Fetch makes an in-process GET of path on api on behalf of orig, reading
// at most limit bytes of the answer. A page renders from the same public
// API as its script and as integrations, so they cannot disagree.
func Fetch(ctx context.Context, api http.Handler, orig *http.Request, path string, limit int) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = orig.RemoteAddr
	req.Host = orig.Host
	req.TLS = orig.TLS
	for _, h := range forwarded {
		if v := orig.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	req.Header.Set("Accept", "application/json")
	rec := &recorder{header: http.Header{}, limit: limit}
	api.ServeHTTP(rec, req)
	if rec.overflow {
		return nil, fmt.Errorf("%s: answer exceeds %d bytes", path, limit)
	}
	return &Response{Status: rec.status(), Header: rec.header, Body: rec.body.Bytes()}, nil
}

// recorder is a bounded in-memory ResponseWriter for the sub-request.
type recorder struct {
	header   http.Header
	code     int
	body     bytes.Buffer
	limit    int
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(p) > r.limit {
		r.overflow = true
		return 0, errors.New("response too large")
	}
	return r.body.Write(p)
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
