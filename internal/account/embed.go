package account

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/validation"
)

// MaxEmbedOrigins bounds an account's embed origins: each is a word of
// every signing page's Content-Security-Policy header.
const MaxEmbedOrigins = 20

// ErrVersionMismatch is an If-Match precondition that failed.
var ErrVersionMismatch = errors.New("account changed since it was read")

// Precondition is an If-Match check on the account's version; nil passes.
type Precondition func(version int) bool

// ParseEmbedOrigin checks one origin allowed to frame the signing page and
// returns its canonical form ("https://app.example.com:8443"). Only https
// is admitted, and http for localhost so an integrator can develop; an
// origin is a scheme, a host and a port, so a path, query, fragment or
// user part is refused rather than silently dropped.
func ParseEmbedOrigin(s string) (string, error) {
	if r := validation.CheckText(s, validation.Line); r != "" {
		return "", errors.New(r)
	}
	if strings.TrimSpace(s) != s || s == "" {
		return "", errors.New("must be an origin such as https://app.example.com, without spaces")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", errors.New("must be an origin such as https://app.example.com")
	}
	switch {
	case u.User != nil:
		return "", errors.New("must not contain a user name or password")
	case u.Path != "" && u.Path != "/", u.RawQuery != "" || u.ForceQuery, u.Fragment != "" || strings.Contains(s, "#"):
		return "", errors.New("must be an origin only (scheme, host and port), without a path, query or fragment")
	case strings.Contains(u.Hostname(), "*"):
		return "", errors.New("must name one host; wildcards are not allowed")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	switch scheme {
	case "https":
	case "http":
		if host != "localhost" && host != "127.0.0.1" && host != "::1" {
			return "", errors.New("must use https (http is allowed only for localhost)")
		}
	default:
		return "", errors.New("must use https (http is allowed only for localhost)")
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", errors.New("must have a port between 1 and 65535")
		}
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = ""
		} else {
			port = strconv.Itoa(n)
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	} else if net.ParseIP(host) == nil && !validHostname(host) {
		return "", errors.New("must have a valid host name")
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// validHostname accepts DNS names (letters, digits, hyphens, dots; IDNs in
// their xn-- form), which is all a CSP source expression can carry.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// CheckEmbedOrigins validates a whole list for field (its JSON name) and
// returns it canonical and without duplicates.
func CheckEmbedOrigins(field string, origins []string) ([]string, validation.Errors) {
	var errs validation.Errors
	if len(origins) > MaxEmbedOrigins {
		errs = append(errs, validation.FieldError{Field: field,
			Reason: fmt.Sprintf("must list at most %d origins (got %d)", MaxEmbedOrigins, len(origins))})
		return nil, errs
	}
	out := make([]string, 0, len(origins))
	seen := map[string]bool{}
	for i, o := range origins {
		c, err := ParseEmbedOrigin(o)
		if err != nil {
			errs = append(errs, validation.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Reason: err.Error()})
			continue
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, errs
}

// SetEmbedOrigins replaces the account's embed origins.
func (s *Service) SetEmbedOrigins(ctx context.Context, id string, origins []string, match Precondition) (*Account, error) {
	clean, errs := CheckEmbedOrigins("embedOrigins", origins)
	if len(errs) > 0 {
		return nil, errs
	}
	var a Account
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.ForUpdate(s.db.Conn(ctx).Where("id = ?", id), false).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fmt.Errorf("account %s: %w", id, ErrNotFound)
			}
			return fmt.Errorf("get account %s: %w", id, err)
		}
		if match != nil && !match(a.Version) {
			return fmt.Errorf("account %s is at version %d: %w", id, a.Version, ErrVersionMismatch)
		}
		a.EmbedOrigins = clean
		a.Version++
		if err := s.db.Conn(ctx).Model(&Account{}).Where("id = ?", id).
			Select("embed_origins", "version").Updates(&a).Error; err != nil {
			return fmt.Errorf("update account %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}
