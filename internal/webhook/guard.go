package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbiddenAddress is the dial-time refusal of a non-public address.
var ErrForbiddenAddress = errors.New("address is not publicly routable")

// blockedPrefixes are the ranges a webhook may not reach unless the operator
// allows private addresses: everything that is not the public internet.
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", including the unspecified address
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, including cloud metadata 169.254.169.254
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, including broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"::/96",           // IPv4-compatible (deprecated)
		"100::/64",        // discard
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local, including AWS metadata fd00:ec2::254
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
		"2001::/32",       // Teredo: tunnels to an embedded IPv4 address
		"2001:10::/28",    // ORCHID
		"2001:20::/28",    // ORCHIDv2
		"64:ff9b:1::/48",  // local-use NAT64
		"::ffff:0:0:0/96", // IPv4-translated
		"3fff::/20",       // documentation (RFC 9637)
		"5f00::/16",       // segment routing SIDs
		// 6to4 (2002::/16) and NAT64 (64:ff9b::/96) are judged by the IPv4
		// address they embed, in PublicAddress.
		"ff02::/16",          // link-local multicast (inside ff00::/8; explicit for readers)
		"fd00:ec2::254/128",  // AWS IMDS over IPv6 (inside fc00::/7; explicit for readers)
		"169.254.169.254/32", // cloud metadata (inside 169.254/16; explicit for readers)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var (
	sixToFour = netip.MustParsePrefix("2002::/16")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
)

// PublicAddress reports whether addr is on the public internet. IPv4-mapped
// IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4 address they
// carry; 6to4 and NAT64 addresses are public only if their embedded IPv4
// address is.
func PublicAddress(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		switch {
		case nat64.Contains(addr):
			b := addr.As16()
			return PublicAddress(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(addr):
			b := addr.As16()
			return PublicAddress(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// dialControl is the net.Dialer Control hook: it runs after name resolution,
// on the very address about to be connected, so a hostname that resolves to
// a private address (or starts to, after registration: DNS rebinding) is
// refused.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %s %q: %w", network, address, ErrForbiddenAddress)
	}
	if !PublicAddress(ap.Addr()) {
		return fmt.Errorf("webhook dial %s: %s: %w", network, ap.Addr().Unmap(), ErrForbiddenAddress)
	}
	return nil
}

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
		if !p.AllowPrivate && !PublicAddress(ip) {
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

// forbidden reports whether err is the guard's refusal.
func forbidden(err error) bool {
	var op *net.OpError
	return errors.Is(err, ErrForbiddenAddress) || errors.As(err, &op) && errors.Is(op.Err, ErrForbiddenAddress)
}
