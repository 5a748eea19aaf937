// Package webhookverify checks webhooks signed according to the Standard
// Webhooks specification (https://www.standardwebhooks.com), as Vellum sends
// them: a `webhook-id`, a `webhook-timestamp` in Unix seconds and a
// `webhook-signature` holding one or more space-separated `v1,<base64>`
// HMAC-SHA256 signatures of "{id}.{timestamp}.{body}", keyed with the
// base64-decoded part of a `whsec_…` secret.
//
// A receiver verifies the raw body before parsing it:
//
//	v, err := webhookverify.New(os.Getenv("VELLUM_WEBHOOK_SECRET"))
//	...
//	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err := v.Verify(body, r.Header); err != nil {
//		http.Error(w, "bad signature", http.StatusBadRequest)
//		return
//	}
//
// Deliveries are at least once: the same message may arrive more than once
// (with the same webhook-id), so receivers de-duplicate by webhook-id.
//
// The package imports nothing outside the standard library.
package webhookverify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, as the specification spells them (HTTP headers are case
// insensitive).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret; the rest is base64.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a message's timestamp may be from the
// receiver's clock, in either direction, before it is refused as a replay.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify; test with errors.Is.
var (
	ErrMissingHeaders      = errors.New("webhookverify: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidHeaders      = errors.New("webhookverify: malformed webhook headers")
	ErrNoMatchingSignature = errors.New("webhookverify: no signature matches")
	ErrTooOld              = errors.New("webhookverify: message timestamp too old")
	ErrTooNew              = errors.New("webhookverify: message timestamp too far in the future")
	ErrInvalidSecret       = errors.New("webhookverify: invalid secret")
)

// Signature is one entry of the webhook-signature header.
type Signature struct {
	Version string // "v1" for HMAC-SHA256; other versions are ignored
	Value   []byte // the decoded signature
}

// Headers are the parsed webhook headers of one request.
type Headers struct {
	ID         string
	Timestamp  time.Time
	Signatures []Signature
}

// ParseHeaders reads the three webhook headers. Signature entries whose
// version or base64 is unreadable are skipped, as the specification asks,
// so a sender can add new schemes without breaking old receivers.
func ParseHeaders(h http.Header) (Headers, error) {
	id, ts, sig := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sig == "" {
		return Headers{}, ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return Headers{}, fmt.Errorf("%w: webhook-timestamp %q is not Unix seconds", ErrInvalidHeaders, ts)
	}
	out := Headers{ID: id, Timestamp: time.Unix(sec, 0)}
	for _, entry := range strings.Fields(sig) {
		version, value, ok := strings.Cut(entry, ",")
		if !ok || version == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		out.Signatures = append(out.Signatures, Signature{Version: version, Value: raw})
	}
	return out, nil
}

// Verifier checks messages against one or more secrets. A receiver that
// rotates its secret can hold the old and the new one for a while; the
// sender, for its part, signs with both during its own rotation window.
type Verifier struct {
	keys [][]byte
	// Tolerance bounds the clock difference; zero means DefaultTolerance,
	// a negative value disables the check (not recommended).
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a verifier for the given `whsec_…` secrets (the prefix is
// optional; the rest must be base64).
func New(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	v := &Verifier{}
	for i, s := range secrets {
		key, err := DecodeSecret(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i+1, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// DecodeSecret returns the HMAC key of a `whsec_…` secret.
func DecodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %s is not base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// Verify checks body (the raw request body, unparsed) against the request
// headers: the timestamp must be within the tolerance and at least one v1
// signature must match one of the verifier's secrets. Comparison is in
// constant time.
func (v *Verifier) Verify(body []byte, h http.Header) error {
	hd, err := ParseHeaders(h)
	if err != nil {
		return err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol == 0 {
		tol = DefaultTolerance
	}
	if tol > 0 {
		t := now()
		if t.Sub(hd.Timestamp) > tol {
			return ErrTooOld
		}
		if hd.Timestamp.Sub(t) > tol {
			return ErrTooNew
		}
	}
	for _, key := range v.keys {
		want := mac(key, hd.ID, hd.Timestamp.Unix(), body)
		for _, s := range hd.Signatures {
			// hmac.Equal takes the same time however much of a forged
			// signature is right, so timing reveals nothing.
			if s.Version == "v1" && hmac.Equal(s.Value, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// Sign returns the `v1,<base64>` signature of a message, the value a sender
// puts in webhook-signature (several joined by spaces while rotating).
// Receivers use it to build test fixtures.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := DecodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, timestamp.Unix(), body)), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
