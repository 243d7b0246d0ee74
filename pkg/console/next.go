package console

import (
	"net/url"
	"strings"
)

// safeNext returns where the login may send the browser afterwards: next
// when it is a path on this host, "/" otherwise. It judges next as a
// browser reads a Location: tabs, CR and LF dropped and "\" taken for "/"
// (so "/\t/evil.example" and "/\evil.example" are "//evil.example", a
// host), and returns the normalised form, so what was judged is what is
// followed.
func safeNext(next string) string {
	next = strings.NewReplacer("\t", "", "\r", "", "\n", "", `\`, "/").Replace(next)
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/" // other control characters: browsers differ
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// A path that unescapes to "//" or "/\" is a host to some servers
	// and proxies that decode before routing: refuse it as well.
	if p := strings.ReplaceAll(u.Path, `\`, "/"); strings.HasPrefix(p, "//") {
		return "/"
	}
	return next
}
