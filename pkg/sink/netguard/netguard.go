// Package netguard is the SSRF guard: the addresses a sink may not connect
// to unless private networks are allowed. Webhooks dial through it unless
// they set allow_private_networks; every connection an API-written sink's
// driver opens of its own (a nats sink's url, a webhook) dials through it
// unless api.allow lists private_networks.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// blockedPrefixes are the destinations a guarded sink may not reach:
// loopback, private, link-local (cloud metadata at 169.254.169.254 and
// fd00:ec2::254 among them), carrier-grade NAT, and every block of IANA's
// IPv4 and IPv6 special-purpose address registries that is not globally
// reachable (benchmarking, documentation, discard, ORCHID, SRv6 SIDs),
// plus the deprecated ranges no public receiver has: 192.88.99.0/24 (6to4
// relay anycast) and fec0::/10 (site-local). The IPv6 transition ranges
// that carry an IPv4 address are refused whole (::/96 IPv4-compatible,
// ::ffff:0:0:0/96 SIIT, 64:ff9b:1::/48 local-use NAT64, 2002::/16 6to4,
// 2001::/32 Teredo inside 2001::/23), except the NAT64 well-known prefix
// 64:ff9b::/96 that DNS64 networks hand out for IPv4-only hosts, and
// IPv4-mapped ::ffff:0:0/96: there the embedded IPv4 address is judged
// (see CheckAddr).
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "::1/128", "::ffff:0:0:0/96", "64:ff9b:1::/48", "100::/64",
		"2001::/23", // IETF protocol assignments: Teredo, benchmarking, ORCHID(v2), AMT, AS112
		"2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
		"fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// nat64 is the NAT64 well-known prefix (RFC 6052): its last 32 bits are an
// IPv4 address, and that address decides.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// BlockedError is the guard's refusal; it names the address it refused.
type BlockedError struct {
	Addr netip.Addr
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("ssrf guard: refused to connect to %s (private or reserved address; a webhook's allow_private_networks, or for a sink written through the API api.allow: [private_networks], permits it)", e.Addr)
}

// CheckAddr says whether the guard lets a connection to ip through.
func CheckAddr(ip netip.Addr) error {
	// A zone (fe80::1%eth0, ::1%lo) picks an interface, not a destination,
	// and netip.Prefix.Contains is false for any zoned address: judge the
	// address without it.
	orig := ip
	ip = ip.WithZone("").Unmap() // ::ffff:10.0.0.1 is 10.0.0.1
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return &BlockedError{Addr: orig}
		}
	}
	return nil
}

// Control is a net.Dialer's Control: it runs after DNS resolution and
// before connect, on the address actually dialed, so a hostname that
// resolves (or re-resolves) to a private address is refused too.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("ssrf guard: %q is not an IP address: %w", host, err)
	}
	return CheckAddr(ip)
}

// HTTPClient is an HTTP client whose every connection dials through the
// guard, without a proxy (a proxy would dial on its behalf).
func HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = NewDialer(10 * time.Second).DialContext
	return &http.Client{Transport: tr}
}

// PrivateHost reports whether host (a URL's Hostname: no brackets, no
// port) is an address the guard refuses. A name is not judged here: it is
// judged on each address it resolves to, when dialed (Control).
func PrivateHost(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && CheckAddr(ip) != nil
}

// Dialer is a dialer whose every connection goes through the guard. No
// proxy is involved: a proxy would dial on the caller's behalf.
type Dialer struct {
	net.Dialer
	refused atomic.Pointer[BlockedError]
}

// NewDialer returns a guarded dialer with the given connect timeout.
func NewDialer(timeout time.Duration) *Dialer {
	return &Dialer{Dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: Control}}
}

// Dial connects through the guard (nats.go's CustomDialer).
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects through the guard and keeps its last refusal.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, address)
	var blocked *BlockedError
	if errors.As(err, &blocked) {
		d.refused.Store(blocked)
	}
	return c, err
}

// Refused is the guard's last refusal on this dialer, or nil: a client
// that reports only "no servers available" after trying them all can say
// why.
func (d *Dialer) Refused() *BlockedError {
	if d == nil {
		return nil
	}
	return d.refused.Load()
}
