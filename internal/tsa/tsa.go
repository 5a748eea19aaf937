// Package tsa is Vellum's built-in RFC 3161 time-stamping authority, served
// at POST /tsa in `vellum dev` (and optionally in `serve`) and used by tests.
// It signs with the platform PKI's TSA certificate; the token format lives
// in pkg/rfc3161.
package tsa

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// DefaultPolicyOID identifies the policy of the built-in (development) TSA:
// OpenSSL's example TSA policy. A UUID arc under 2.25 would need no
// registration, but its 128-bit arc overflows the OID types of common
// parsers (Go's encoding/asn1 among them), so validators could not read our
// tokens. Production TSAs set their own policy.
const DefaultPolicyOID = "1.2.3.4.1"

// maxRequestSize bounds a TimeStampReq; a SHA-512 request is under 200 bytes.
const maxRequestSize = 16 << 10

// Config configures a Server.
type Config struct {
	Cert     *x509.Certificate   // TSA certificate, EKU timeStamping
	Key      crypto.Signer       // its key
	Chain    []*x509.Certificate // issuing CA (and root) embedded on certReq
	Policy   string              // dotted OID; empty means DefaultPolicyOID
	Accuracy time.Duration       // zero means one second
	Now      func() time.Time    // zero means time.Now
	Logger   *slog.Logger        // zero means slog.Default()
}

// Server answers time-stamp requests over HTTP.
type Server struct {
	issuer *rfc3161.Issuer
	policy x509.OID
	now    func() time.Time
	log    *slog.Logger
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Cert == nil || cfg.Key == nil {
		return nil, errors.New("tsa: certificate and key are required")
	}
	if !slices.Contains(cfg.Cert.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
		return nil, fmt.Errorf("tsa: certificate %q lacks the timeStamping extended key usage", cfg.Cert.Subject)
	}
	if cfg.Policy == "" {
		cfg.Policy = DefaultPolicyOID
	}
	policy, err := x509.ParseOID(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("tsa: policy %q: %w", cfg.Policy, err)
	}
	if cfg.Accuracy <= 0 {
		cfg.Accuracy = time.Second // genTime is truncated to the second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		issuer: &rfc3161.Issuer{Cert: cfg.Cert, Key: cfg.Key, Chain: cfg.Chain, Policy: policy, Accuracy: cfg.Accuracy},
		policy: policy,
		now:    cfg.Now,
		log:    cfg.Logger,
	}, nil
}

// ServeHTTP answers POST application/timestamp-query with a TimeStampResp.
// Every malformed or unacceptable request gets a rejection response with
// the failInfo that says why (HTTP 200, as RFC 3161 §3.4 carries errors in
// the protocol, not in HTTP).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "time-stamp requests must be POSTed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/timestamp-query" {
			s.reject(w, rfc3161.FailBadDataFormat, "content type must be application/timestamp-query")
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestSize))
	if err != nil {
		s.reject(w, rfc3161.FailBadDataFormat, "request body unreadable or too large")
		return
	}
	resp := s.respond(r.Context(), body)
	s.write(w, resp)
}

// respond turns a DER request into the response to send.
func (s *Server) respond(ctx context.Context, body []byte) *rfc3161.Response {
	req, err := rfc3161.ParseRequest(body)
	switch {
	case errors.Is(err, rfc3161.ErrUnsupportedHash):
		return rejection(rfc3161.FailBadAlg, "hash algorithm must be SHA-256, SHA-384 or SHA-512")
	case err != nil:
		return rejection(rfc3161.FailBadDataFormat, "malformed time-stamp request")
	case !req.Policy.Equal(x509.OID{}) && !req.Policy.Equal(s.policy):
		return rejection(rfc3161.FailUnacceptedPolicy, "only policy "+s.policy.String()+" is offered")
	case len(req.Extensions) > 0:
		return rejection(rfc3161.FailUnacceptedExtension, "request extensions are not supported")
	}
	tok, err := s.issuer.Issue(ctx, req, s.now())
	if err != nil {
		s.log.Error("tsa: issue token", "err", err)
		return rejection(rfc3161.FailSystemFailure, "internal error")
	}
	return &rfc3161.Response{Status: rfc3161.StatusGranted, Token: tok}
}

func rejection(f rfc3161.FailureInfo, text string) *rfc3161.Response {
	return &rfc3161.Response{Status: rfc3161.StatusRejection, Failures: []rfc3161.FailureInfo{f}, StatusText: []string{text}}
}

func (s *Server) reject(w http.ResponseWriter, f rfc3161.FailureInfo, text string) {
	s.write(w, rejection(f, text))
}

func (s *Server) write(w http.ResponseWriter, resp *rfc3161.Response) {
	der, err := resp.Marshal()
	if err != nil {
		s.log.Error("tsa: marshal response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(der)
}
