package webhook

import (
	"net/netip"

	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// BlockedError is netguard's refusal of an address: the SSRF guard lives
// in netguard, shared by every driver that dials on an API sink's behalf,
// and the webhook's callers and tests name it here.
type BlockedError = netguard.BlockedError

// CheckAddr says whether the guard lets a connection to ip through.
func CheckAddr(ip netip.Addr) error { return netguard.CheckAddr(ip) }

// guardControl is the dialer's Control of a guarded webhook.
var guardControl = netguard.Control
