package vellum

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Version is this client's version, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultBaseURL is where `vellum dev` listens unless told otherwise.
const DefaultBaseURL = "http://127.0.0.1:8080"

// Client calls one Vellum deployment with one API key. Create it with
// [NewClient]; it is safe for concurrent use.
type Client struct {
	base       *url.URL
	key        string
	hc         *http.Client
	userAgent  string
	maxRetries int
	maxWait    time.Duration

	// Documents uploads, lists, downloads and deletes PDFs.
	Documents *DocumentService
	// Envelopes creates, sends, voids and tracks envelopes and downloads their results.
	Envelopes *EnvelopeService
	// Signer acts for one recipient through the token of their signUrl (no API key).
	Signer *SignerService
	// Webhooks manages webhook endpoints and their deliveries.
	Webhooks *WebhookService
	// Keys manages the API keys of the caller's account and environment.
	Keys *KeyService
	// OAuthClients manages the OAuth 2.0 clients of the caller's account and
	// environment (credentials for Signicat's token endpoint).
	OAuthClients *OAuthClientService
	// Account reads and changes the caller's account settings.
	Account *AccountService
	// Persons manages persons and their long-lived certificates.
	Persons *PersonService
}

// Option configures a [Client].
type Option func(*Client) error

// WithBaseURL sets the deployment's URL, e.g. https://sign.example.com
// (default [DefaultBaseURL]). A path prefix is kept.
func WithBaseURL(raw string) Option {
	return func(c *Client) error {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil {
			return fmt.Errorf("base URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("base URL %q: want http(s)://host[:port][/prefix]", raw)
		}
		c.base = u
		return nil
	}
}

// WithAPIKey sets the bearer API key (sk_test_… or sk_live_…). Without
// one, only the signer API and the public routes can be called.
func WithAPIKey(key string) Option {
	return func(c *Client) error {
		c.key = key
		return nil
	}
}

// WithHTTPClient sets the *http.Client requests go through. The default
// has connect, TLS-handshake and response-header timeouts but no overall
// timeout, so that large downloads are bounded by the caller's context only.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithUserAgent puts product (e.g. "acme-crm/2.3") in front of the
// client's own User-Agent.
func WithUserAgent(product string) Option {
	return func(c *Client) error {
		c.userAgent = product + " " + c.userAgent
		return nil
	}
}

// WithRetries sets how many times a retryable failure (429, 503, an
// Idempotency-Key still in use, a connection error on a GET or keyed POST)
// is retried (default 3; 0 disables retries), and the longest single wait
// the client accepts: a Retry-After beyond maxWait ends the call with the
// server's error instead (default 30 s).
func WithRetries(n int, maxWait time.Duration) Option {
	return func(c *Client) error {
		if n < 0 || maxWait < 0 {
			return errors.New("retries and their wait must not be negative")
		}
		c.maxRetries, c.maxWait = n, maxWait
		return nil
	}
}

// NewClient returns a client configured by opts.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{
		userAgent:  "vellum-go/" + Version,
		maxRetries: 3,
		maxWait:    30 * time.Second,
	}
	if err := WithBaseURL(DefaultBaseURL)(c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("vellum: %w", err)
		}
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	c.Documents = &DocumentService{c: c}
	c.Envelopes = &EnvelopeService{c: c}
	c.Signer = &SignerService{c: c}
	c.Webhooks = &WebhookService{c: c}
	c.Keys = &KeyService{c: c}
	c.OAuthClients = &OAuthClientService{c: c}
	c.Account = &AccountService{c: c}
	c.Persons = &PersonService{c: c}
	return c, nil
}

func defaultHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t}
}

type idempotencyKeyCtx struct{}

// WithIdempotencyKey returns a context whose POSTs carry key as their
// Idempotency-Key instead of a random one, so that a call repeated after
// a crash of the caller is recognised by the server (within 24 hours) and
// answered with the first response.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

type ifMatchCtx struct{}

// WithIfMatch returns a context whose PATCH and DELETE calls carry etag (an
// object's ETag field, from the read it was changed after) in If-Match, so
// they fail with a 412 *Error instead of overwriting someone else's change.
func WithIfMatch(ctx context.Context, etag string) context.Context {
	return context.WithValue(ctx, ifMatchCtx{}, etag)
}

// etagged is a response object that keeps its ETag header.
type etagged interface{ setETag(string) }

// request is one API call; body (nil for none) is called once per attempt
// and must produce the same bytes each time, or errNotReplayable when it
// cannot be sent again.
type request struct {
	method      string
	path        string
	query       url.Values
	body        func() (io.Reader, int64, error)
	contentType string
	// anonymous requests (the signer API) carry neither the API key nor an
	// Idempotency-Key, which the server scopes to an API key.
	anonymous bool
}

var errNotReplayable = errors.New("request body cannot be sent again")

func jsonBody(v any) (func() (io.Reader, int64, error), error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return func() (io.Reader, int64, error) { return bytes.NewReader(b), int64(len(b)), nil }, nil
}

// do sends r, retrying what is safe to retry, and returns a 2xx response
// whose body the caller must close; any other status becomes an *Error.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	// r.path has its ids escaped already (pathf): keep it as the raw path.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + r.path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("vellum: %s %s: %w", r.method, r.path, err)
	}
	u.Path = p
	u.RawQuery = r.query.Encode()

	idemKey := ""
	if r.method == http.MethodPost && !r.anonymous {
		idemKey, _ = ctx.Value(idempotencyKeyCtx{}).(string)
		if idemKey == "" {
			idemKey = newIdempotencyKey()
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, r, u.String(), idemKey)
		if errors.Is(err, errNotReplayable) && lastErr != nil {
			return nil, lastErr
		}
		if err != nil {
			return nil, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("vellum: %s %s: %w", r.method, r.path, ctx.Err())
			}
			err = fmt.Errorf("vellum: %s %s: %w", r.method, r.path, err)
			if attempt >= c.maxRetries || !(r.method == http.MethodGet || idemKey != "") {
				return nil, err
			}
			if werr := sleep(ctx, backoff(attempt)); werr != nil {
				return nil, err
			}
			lastErr = err
			continue
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		apiErr := readError(resp)
		wait, ok := c.retryWait(r, idemKey != "", apiErr, resp.Header, attempt)
		if !ok {
			return nil, apiErr
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w (while waiting to retry: %w)", apiErr, err)
		}
		lastErr = apiErr
	}
}

func (c *Client) newRequest(ctx context.Context, r *request, target, idemKey string) (*http.Request, error) {
	var body io.Reader
	size := int64(0)
	if r.body != nil {
		var err error
		if body, size, err = r.body(); err != nil {
			return nil, fmt.Errorf("vellum: %s %s: %w", r.method, r.path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("vellum: %w", err)
	}
	if body != nil {
		// -1: unknown length, sent chunked.
		req.ContentLength = size
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.key != "" && !r.anonymous {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	if etag, _ := ctx.Value(ifMatchCtx{}).(string); etag != "" && (r.method == http.MethodPatch || r.method == http.MethodDelete) {
		req.Header.Set("If-Match", etag)
	}
	return req, nil
}

// retryWait decides whether a failed attempt is retried and after how long.
// 429 is always safe: the rate limiter refused before anything ran. 503 and
// an Idempotency-Key still in use are safe for reads and keyed POSTs, which
// the server deduplicates; PATCH and DELETE are not retried on them.
func (c *Client) retryWait(r *request, keyed bool, e *Error, h http.Header, attempt int) (time.Duration, bool) {
	if attempt >= c.maxRetries {
		return 0, false
	}
	safe := r.method == http.MethodGet || keyed
	switch {
	case e.Status == http.StatusTooManyRequests:
	case e.Status == http.StatusServiceUnavailable && safe:
	case e.Status == http.StatusConflict && e.Code == "idempotency_key_in_use" && keyed:
	default:
		return 0, false
	}
	wait := backoff(attempt)
	if ra, ok := parseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
		wait = ra
	}
	if wait > c.maxWait {
		return 0, false
	}
	return wait, true
}

// backoff is exponential from 500 ms with full jitter, capped at 8 s.
func backoff(attempt int) time.Duration {
	ceil := min(500*time.Millisecond<<attempt, 8*time.Second)
	return ceil/2 + rand.N(ceil/2+1)
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func newIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// call sends r and decodes a JSON answer into out (unless out is nil).
func (c *Client) call(ctx context.Context, r *request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("vellum: %s %s: decode response: %w", r.method, r.path, err)
	}
	if e, ok := out.(etagged); ok {
		e.setETag(resp.Header.Get("ETag"))
	}
	return nil
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	return c.call(ctx, &request{method: http.MethodGet, path: path, query: q}, out)
}

func (c *Client) sendJSON(ctx context.Context, method, path string, in, out any) error {
	r := &request{method: method, path: path}
	if v := reflect.ValueOf(in); in != nil && !(v.Kind() == reflect.Pointer && v.IsNil()) {
		body, err := jsonBody(in)
		if err != nil {
			return fmt.Errorf("vellum: %s %s: encode request: %w", method, path, err)
		}
		r.body, r.contentType = body, "application/json"
	}
	return c.call(ctx, r, out)
}

func pathf(format string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...)
}
