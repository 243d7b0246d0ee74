package subject

import "strings"

// Token is name as one subject token and KV key part, the single way a
// name (a sink's, a tenant's) goes into a subject or a key. A valid name
// (letters, digits, - and _) is itself; any other byte becomes =XX (its
// hex), so a name can never be a wildcard ("*", ">"), add tokens (".")
// or break a subject (white space), and an escaped name never equals a
// valid one ("=" is in no valid name). The empty name is "=".
//
// Names are refused at the edges (config validation, the API's routes);
// Token is what keeps a name that got past them from reading or writing
// another sink's subjects.
func Token(name string) string {
	if name == "" {
		return "="
	}
	clean := true
	for i := 0; i < len(name); i++ {
		if !tokenByte(name[i]) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if tokenByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func tokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
