// Package outbound is the one way Vellum makes HTTP requests that a user's
// input can steer: webhook deliveries, and the OCSP, CRL and caIssuers
// fetches for certificates in uploaded documents. Every connection is
// checked at dial time, on the address actually dialled (after DNS, so a
// name that resolves or rebinds to an internal address is refused); no
// proxy is taken from the environment (it would dial for us, past the
// check); redirects are not followed unless asked for, and then only to
// equally checked hosts; every request has a timeout and every response a
// size cap.
//
// Endpoints the operator configured (a TSA, the platform's own OCSP
// responder) are trusted by name: their host:port may be listed in
// Config.AllowHosts, which skips the address check for exactly those.
package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the dial-time refusal of a non-public address.
var ErrForbiddenAddress = errors.New("address is not publicly routable")

// ErrResponseTooLarge is returned while reading a body past Config.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response body too large")

// Config describes a guarded client.
type Config struct {
	// Timeout bounds a whole request, including redirects and reading the
	// body (default 10 s); it also bounds the dial and the TLS handshake.
	Timeout time.Duration
	// AllowPrivate turns the address check off (VELLUM_OUTBOUND_ALLOW_PRIVATE
	// and the webhook's own VELLUM_WEBHOOK_ALLOW_PRIVATE; `vellum dev`).
	AllowPrivate bool
	// AllowHosts are host:port pairs (as in a URL; see HostPort) reachable
	// whatever their address: the operator's own configured endpoints.
	AllowHosts []string
	// MaxRedirects followed; 0 returns the 3xx response as the answer.
	MaxRedirects int
	// MaxResponseBytes caps a response body; 0 means no cap.
	MaxResponseBytes int64
	// RootCAs replaces the system roots for TLS (tests).
	RootCAs *x509.CertPool
	// MaxIdleConnsPerHost for a client talking to few hosts a lot (default 2).
	MaxIdleConnsPerHost int
}

// HostPort returns the host:port a URL dials, with the scheme's default
// port, lower-cased: the form Config.AllowHosts holds.
func HostPort(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", rawURL, err)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", fmt.Errorf("URL %q has no host", rawURL)
	}
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", fmt.Errorf("URL %q: scheme must be http or https", rawURL)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// NewClient returns an HTTP client that only reaches what cfg allows.
func NewClient(cfg Config) *http.Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = 2
	}
	allowed := make(map[string]bool, len(cfg.AllowHosts))
	for _, h := range cfg.AllowHosts {
		allowed[strings.ToLower(h)] = true
	}
	trusted := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		guarded.Control = dialControl
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if allowed[strings.ToLower(addr)] {
			return trusted.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		MaxResponseHeaderBytes: 64 << 10,
	}
	if cfg.MaxResponseBytes > 0 {
		rt = capped{rt: rt, limit: cfg.MaxResponseBytes}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				// A redirect is then an answer, not a success: following it
				// would let a public URL send us somewhere else.
				return http.ErrUseLastResponse
			}
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return fmt.Errorf("redirect to %s: scheme must be http or https", req.URL.Redacted())
			}
			// A redirect must not turn a checked request into one to an
			// endpoint that is trusted only because the operator named it.
			to, _ := HostPort(req.URL.String())
			from, _ := HostPort(via[0].URL.String())
			if allowed[to] && !allowed[from] {
				return fmt.Errorf("redirect to %s: %w", to, ErrForbiddenAddress)
			}
			return nil
		},
	}
}

// dialControl is the net.Dialer Control hook: it runs after name resolution,
// on the very address about to be connected, so a hostname that resolves to
// a private address (or starts to, after a check: DNS rebinding) is refused.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %q: %w", network, address, ErrForbiddenAddress)
	}
	if !PublicAddress(ap.Addr()) {
		return fmt.Errorf("dial %s: %s: %w", network, ap.Addr().Unmap(), ErrForbiddenAddress)
	}
	return nil
}

// Forbidden reports whether err is the guard's refusal.
func Forbidden(err error) bool {
	return errors.Is(err, ErrForbiddenAddress)
}

// capped limits every response body it carries.
type capped struct {
	rt    http.RoundTripper
	limit int64
}

func (c capped) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > c.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %d bytes announced: %w", req.URL.Redacted(), resp.ContentLength, ErrResponseTooLarge)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: c.limit}
	return resp, nil
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
