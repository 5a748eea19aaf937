package rfc3161

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrMalformed means a request, response or token could not be decoded.
	ErrMalformed = errors.New("rfc3161: malformed data")
	// ErrUnsupportedHash means the digest algorithm is not SHA-256/384/512.
	ErrUnsupportedHash = errors.New("rfc3161: unsupported hash algorithm")
	// ErrRejected means the TSA answered with a status other than granted.
	ErrRejected = errors.New("rfc3161: request rejected by TSA")
	// ErrNonceMismatch means the token does not echo the request's nonce,
	// so it may be a replay of an older answer.
	ErrNonceMismatch = errors.New("rfc3161: nonce mismatch")
	// ErrImprintMismatch means the token time-stamps other data.
	ErrImprintMismatch = errors.New("rfc3161: message imprint mismatch")
	// ErrBadSignature means the token's CMS signature does not verify.
	ErrBadSignature = errors.New("rfc3161: invalid token signature")
	// ErrNoCertificate means the token does not carry its TSA certificate.
	ErrNoCertificate = errors.New("rfc3161: token carries no TSA certificate")
)

// ServerError is the failure of one TSA during Client.Timestamp.
type ServerError struct {
	Name string
	URL  string
	Err  error
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("%s (%s): %v", e.Name, e.URL, e.Err)
}

func (e *ServerError) Unwrap() error { return e.Err }

// AllServersFailedError is returned when no configured TSA produced a
// verified token. It lists every attempt in order.
type AllServersFailedError struct {
	Failures []*ServerError
}

func (e *AllServersFailedError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("rfc3161: no time-stamp obtained from %d server(s): %s",
		len(e.Failures), strings.Join(parts, "; "))
}

// Unwrap exposes every server's error to errors.Is and errors.As.
func (e *AllServersFailedError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}
