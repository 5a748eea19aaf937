package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/vellum-sign/vellum/internal/outbound"
	"github.com/vellum-sign/vellum/internal/validation"
)

// HTTPSources fetches documents from the data sources the operator
// registered (URL prefixes); every other URL is refused before any request
// is made, and every dial goes through the SSRF guard.
type HTTPSources struct {
	prefixes []*url.URL
	client   *http.Client
	// MaxBytes caps a document (default 64 MiB).
	MaxBytes int64
}

// ErrForbiddenSource is a data.http URL that is not registered or does
// not resolve to a public address.
var ErrForbiddenSource = errors.New("the URL is not a registered data source")

// NewHTTPSources returns a fetcher for prefixes (absolute http(s) URLs)
// over client, which must be the outbound guard's (internal/outbound):
// dial-time address checks, no proxy, no redirects.
func NewHTTPSources(prefixes []string, client *http.Client) (*HTTPSources, error) {
	s := &HTTPSources{MaxBytes: 64 << 20, client: client}
	for _, p := range prefixes {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("data source %q is not an absolute http(s) URL", p)
		}
		s.prefixes = append(s.prefixes, u)
	}
	return s, nil
}

// Registered reports whether raw is under one of the registered prefixes:
// same scheme and host, and a path that starts with the prefix's path at a
// segment boundary.
func (s *HTTPSources) Registered(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" {
		return false
	}
	for _, p := range s.prefixes {
		if !strings.EqualFold(u.Scheme, p.Scheme) || !strings.EqualFold(u.Host, p.Host) {
			continue
		}
		pp := p.Path
		if pp == "" || strings.HasSuffix(pp, "/") {
			if strings.HasPrefix(u.Path, pp) || pp == "" {
				return !strings.Contains(u.Path, "..")
			}
			continue
		}
		if u.Path == pp || strings.HasPrefix(u.Path, pp+"/") {
			return !strings.Contains(u.Path, "..")
		}
	}
	return false
}

// Fetch streams the document at src to w.
func (s *HTTPSources) Fetch(ctx context.Context, src Source, w io.Writer) error {
	if !s.Registered(src.URL) {
		return validation.Errors{{Field: "data.http.url", Reason: "must be a registered data source url"}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return validation.Errors{{Field: "data.http.url", Reason: "must be a well-formed URL"}}
	}
	for k, v := range src.Headers {
		req.Header.Set(k, v)
	}
	if src.Username != "" || src.Password != "" {
		req.SetBasicAuth(src.Username, src.Password)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if outbound.Forbidden(err) {
			return validation.Errors{{Field: "data.http.url", Reason: "resolves to an address that is not publicly routable"}}
		}
		return fmt.Errorf("%w: %v", ErrDataSource, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Errorf("%w: %s answered a redirect, which is not followed", ErrDataSource, req.URL.Host)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered HTTP %d", ErrDataSource, req.URL.Host, resp.StatusCode)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, s.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDataSource, err)
	}
	if n > s.MaxBytes {
		return fmt.Errorf("%w: the document is over %d MiB", ErrDataSource, s.MaxBytes>>20)
	}
	return nil
}
