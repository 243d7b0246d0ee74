package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// blockedPrefixes are the destinations a webhook may not reach unless the
// sink sets allow_private_networks: loopback, private, link-local (cloud
// metadata at 169.254.169.254 among them), carrier-grade NAT, and the
// special ranges that never belong to a public receiver.
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b::/96", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// BlockedError is the guard's refusal; it names the address it refused.
type BlockedError struct {
	Addr netip.Addr
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("ssrf guard: refused to connect to %s (private or reserved address; set allow_private_networks to permit it)", e.Addr)
}

// CheckAddr says whether the guard lets a connection to ip through.
func CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap() // ::ffff:10.0.0.1 is 10.0.0.1
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return &BlockedError{Addr: ip}
		}
	}
	return nil
}

// guardControl runs after DNS resolution and before connect, on the address
// actually dialed, so a hostname that resolves (or re-resolves) to a private
// address is refused too.
func guardControl(_, address string, _ syscall.RawConn) error {
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
