package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/vellum-sign/vellum/internal/outbound"
)

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// URLPolicy says which webhook URLs are acceptable.
type URLPolicy struct {
	AllowHTTP    bool
	AllowPrivate bool
}

// ValidateURL checks a webhook URL at registration and returns it in
// canonical form. It refuses what can never work or is certainly internal:
// other schemes, credentials, fragments, literal non-public IP addresses,
// `localhost` names, and numeric host forms a resolver might read as an IP
// address. Names are not resolved here: the dial-time guard decides on the
// address actually used.
func (p URLPolicy) ValidateURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", errors.New("must not be empty")
	case len(raw) > MaxURLLength:
		return "", fmt.Errorf("must be at most %d characters", MaxURLLength)
	}
	for _, r := range raw {
		if r < 0x21 || r == 0x7f {
			return "", errors.New("must not contain spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("is not a valid URL")
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme == "https":
	case scheme == "http" && p.AllowHTTP:
	case scheme == "http":
		return "", errors.New("must use https")
	default:
		return "", errors.New("must be an absolute https URL")
	}
	if u.Opaque != "" || u.Host == "" {
		return "", errors.New("must be an absolute https URL with a host")
	}
	if u.User != nil {
		return "", errors.New("must not contain credentials; put a token in the path or query instead")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", errors.New("must not contain a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return "", errors.New("must have a host")
	}
	if port := u.Port(); port != "" {
		n := 0
		for _, c := range port {
			n = n*10 + int(c-'0')
			if n > 65535 {
				break
			}
		}
		if n < 1 || n > 65535 {
			return "", errors.New("has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", errors.New("has an empty port")
	}
	if strings.Contains(host, "%") {
		return "", errors.New("must not name an IPv6 zone")
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		if !p.AllowPrivate && !outbound.PublicAddress(ip) {
			return "", errors.New("points to a private, loopback or otherwise non-public address")
		}
	} else {
		if strings.HasPrefix(u.Host, "[") {
			return "", errors.New("has an invalid IPv6 address")
		}
		if err := checkHostname(host); err != nil {
			return "", err
		}
		if !p.AllowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
			return "", errors.New("points to localhost")
		}
	}
	u.Scheme = scheme
	u.Host = strings.ToLower(u.Host)
	return u.String(), nil
}

// checkHostname accepts DNS names (letters, digits, hyphens, underscores
// and dots) and refuses purely numeric or hex forms such as 2130706433 or
// 0x7f.1, which some resolvers read as IPv4 addresses.
func checkHostname(host string) error {
	if len(host) > 253 {
		return errors.New("has a host name longer than 253 characters")
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("has an invalid host name")
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return errors.New("has an invalid host name")
			}
		}
	}
	last := labels[len(labels)-1]
	numeric := true
	for _, c := range last {
		if c < '0' || c > '9' {
			numeric = false
			break
		}
	}
	if numeric || strings.HasPrefix(last, "0x") && isHex(last[2:]) {
		return errors.New("has a numeric host that is not a plain IPv4 address")
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
