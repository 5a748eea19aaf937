package outbound

import (
	"net/netip"
)

// blockedPrefixes are the ranges an outbound request may not reach unless
// it is allowed explicitly: everything that is not the public internet.
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
