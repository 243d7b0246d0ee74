package config

// Use is one thing a sink's block uses that api.allow governs for sinks
// written through the API, as the kind's driver declares it: an option in
// a URL's query that picks an endpoint, a credentials profile or a role,
// a URL host in a private network. Fields named for what they borrow
// (*_file, endpoint, role_arn, allow_private_networks) are governed by
// their name whatever the kind; a kind declares what names do not show.
type Use struct {
	// Field is the block's field the use is written in (url), relative to
	// the block.
	Field string
	// Allow is the api.allow entry that permits it (AllowEndpoint, …).
	Allow string
	// Why completes "it …": what the use does with the gateway's files,
	// identity or network position.
	Why string
}

// apiUser is a Kind whose driver declares the uses of its blocks that
// api.allow governs (pkg/sink's registry provides it from a spec's
// APIUses).
type apiUser interface {
	APIUses(cfg any) []Use
}
