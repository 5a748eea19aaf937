package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// ErrNoSuchServer is a timestamp server name that is not configured.
var ErrNoSuchServer = errors.New("no timestamp server has this name")

// ErrRelayFailed is a configured timestamp server that did not answer.
var ErrRelayFailed = errors.New("the timestamp server did not answer")

// maxRelayBytes bounds a relayed query and its reply.
const maxRelayBytes = 1 << 20

// Servers returns the configured timestamp servers' names.
func (s *Service) Servers() []string {
	out := make([]string, 0, len(s.TSAs))
	for _, srv := range s.TSAs {
		out = append(out, srv.Name)
	}
	return out
}

// Relay sends an RFC 3161 query to the configured server name with its
// credentials, headers and timeout, and returns the reply's bytes and
// content type unchanged.
func (s *Service) Relay(ctx context.Context, name string, query []byte) (contentType string, reply []byte, err error) {
	srv, ok := s.server(name)
	if !ok {
		return "", nil, fmt.Errorf("timestamp server %q: %w", name, ErrNoSuchServer)
	}
	timeout := srv.Timeout
	if timeout <= 0 || timeout > rfc3161.MaxTimeout {
		timeout = rfc3161.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(query))
	if err != nil {
		return "", nil, fmt.Errorf("relay to %s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	for k, v := range srv.Headers {
		req.Header.Set(k, v)
	}
	if srv.Username != "" {
		req.SetBasicAuth(srv.Username, srv.Password)
	}
	client := s.RelayClient
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("relay to %s: %w: %v", name, ErrRelayFailed, err)
	}
	defer resp.Body.Close()
	reply, err = io.ReadAll(io.LimitReader(resp.Body, maxRelayBytes+1))
	if err != nil || len(reply) > maxRelayBytes {
		return "", nil, fmt.Errorf("relay to %s: %w: reply unreadable or over %d bytes", name, ErrRelayFailed, maxRelayBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("relay to %s: %w: HTTP %d", name, ErrRelayFailed, resp.StatusCode)
	}
	return resp.Header.Get("Content-Type"), reply, nil
}
