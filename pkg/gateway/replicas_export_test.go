package gateway

// Replicas is how many replicas g counts as delivering with it.
func Replicas(g *Gateway) int { return g.peers.Count() }
