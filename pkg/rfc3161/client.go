package rfc3161

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

const (
	// DefaultTimeout bounds one attempt at one server when Server.Timeout is zero.
	DefaultTimeout = 4 * time.Second
	// MaxTimeout caps Server.Timeout: a signature must not wait on one
	// TSA for 5 s or more (RemSig's limit).
	MaxTimeout = 4900 * time.Millisecond
	// maxResponseSize bounds what is read from a TSA; real responses with
	// a certificate chain are a few kilobytes.
	maxResponseSize = 1 << 20
)

// Server is one configured time-stamping authority.
type Server struct {
	Name     string // shown in errors; defaults to the URL
	URL      string
	Username string // HTTP basic auth when non-empty
	Password string
	Headers  map[string]string // extra request headers, e.g. an API key
	Timeout  time.Duration     // per attempt; zero means DefaultTimeout, capped at MaxTimeout
}

// Client obtains verified time-stamp tokens, trying servers in order.
type Client struct {
	servers []Server
	http    *http.Client
	roots   *x509.CertPool
	policy  x509.OID
	// lastSize is the length of the last token obtained, for TokenSizeHint.
	lastSize atomic.Int64
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client; its Timeout should be zero because
// the per-server timeout is applied through the request context.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRoots additionally requires every token's TSA certificate to chain
// to roots. Without it, tokens are verified against their embedded
// certificate only, and chain validation is left to the relying party.
func WithRoots(roots *x509.CertPool) Option { return func(c *Client) { c.roots = roots } }

// WithPolicy requests a TSA policy in every request.
func WithPolicy(p x509.OID) Option { return func(c *Client) { c.policy = p } }

// NewClient returns a client for servers, tried in the order given.
func NewClient(servers []Server, opts ...Option) (*Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("rfc3161: no time-stamp server configured")
	}
	c := &Client{http: &http.Client{}}
	for _, s := range servers {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("rfc3161: time-stamp server %q: URL %q is not an absolute http(s) URL", s.Name, s.URL)
		}
		if s.Name == "" {
			s.Name = s.URL
		}
		switch {
		case s.Timeout <= 0:
			s.Timeout = DefaultTimeout
		case s.Timeout > MaxTimeout:
			s.Timeout = MaxTimeout
		}
		c.servers = append(c.servers, s)
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Timestamp returns a DER TimeStampToken over digest, computed with h,
// from the first server that yields one that verifies. Each request asks
// for the TSA certificate and carries a fresh nonce. When every server
// fails, the error is an *AllServersFailedError naming each one.
func (c *Client) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	if err := checkHash(h, digest); err != nil {
		return nil, fmt.Errorf("rfc3161: timestamp: %w", err)
	}
	all := &AllServersFailedError{}
	for _, s := range c.servers {
		tok, err := c.try(ctx, s, digest, h)
		if err == nil {
			c.lastSize.Store(int64(len(tok)))
			return tok, nil
		}
		all.Failures = append(all.Failures, &ServerError{Name: s.Name, URL: s.URL, Err: err})
		if ctx.Err() != nil {
			break // the caller gave up; further servers would fail the same way
		}
	}
	return nil, all
}

// TokenSizeHint returns the length of the last token this client obtained,
// 0 before the first. A PDF signer reserves room for the next token from it:
// a TSA's tokens differ in length by a few bytes at most.
func (c *Client) TokenSizeHint() int { return int(c.lastSize.Load()) }

// try performs one request against one server, bounded by its timeout.
func (c *Client) try(ctx context.Context, s Server, digest []byte, h crypto.Hash) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()

	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	req := &Request{HashAlgorithm: h, Digest: digest, Nonce: nonce, CertReq: true, Policy: c.policy}
	body, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	respDER, err := c.post(ctx, s, body)
	if err != nil {
		return nil, err
	}
	resp, err := ParseResponse(respDER)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	tok, err := ParseToken(resp.Token)
	if err != nil {
		return nil, err
	}
	return tok.Raw, c.check(tok, req)
}

// check verifies a token against the request it answers.
func (c *Client) check(tok *Token, req *Request) error {
	if tok.HashAlgorithm != req.HashAlgorithm || !bytes.Equal(tok.Digest, req.Digest) {
		return ErrImprintMismatch
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(req.Nonce) != 0 {
		return ErrNonceMismatch
	}
	if !req.Policy.Equal(x509.OID{}) && !tok.Policy.Equal(req.Policy) {
		return fmt.Errorf("%w: token policy %v, requested %v", ErrRejected, tok.Policy, req.Policy)
	}
	cert, err := tok.VerifySignature(nil)
	if err != nil {
		return err
	}
	if c.roots != nil {
		return tok.verifyChain(cert, c.roots)
	}
	return nil
}

func (c *Client) post(ctx context.Context, s Server, body []byte) ([]byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range s.Headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	hr.Header.Set("Accept", "application/timestamp-reply")
	if s.Username != "" {
		hr.SetBasicAuth(s.Username, s.Password)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		return nil, err // already names the method, URL and cause
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", res.Status)
	}
	der, err := io.ReadAll(io.LimitReader(res.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(der) > maxResponseSize {
		return nil, fmt.Errorf("response larger than %d bytes", maxResponseSize)
	}
	return der, nil
}
