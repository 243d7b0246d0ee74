package gateway

import "sync"

// HoldReloads makes g apply no change, as a reload still in progress
// does, until release (which may be called more than once).
func HoldReloads(g *Gateway) (release func()) {
	g.reloadMu.Lock()
	var once sync.Once
	return func() { once.Do(g.reloadMu.Unlock) }
}

// RunningTenant is the tenant of g's running sink name; false when g runs
// no sink of that name.
func RunningTenant(g *Gateway, name string) (string, bool) {
	rs, err := g.sink(name)
	if err != nil {
		return "", false
	}
	return rs.cfg.Tenant, true
}

// Incarnation is the incarnation of g's running sink name; "" when g runs
// no sink of that name.
func Incarnation(g *Gateway, name string) string {
	rs, err := g.sink(name)
	if err != nil {
		return ""
	}
	return rs.cfg.Incarnation
}
