package webhook_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
	"github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

// netip.Prefix.Contains is false for a zoned address, so ::1%lo once
// slipped past the guard to a loopback receiver.
func TestSSRFGuardRefusesZonedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	port := ln.Addr().(*net.TCPAddr).Port

	lo := loopbackInterface(t)
	for _, url := range []string{
		"http://[::1%25" + lo + "]:" + strconv.Itoa(port) + "/",
		"http://[::1]:" + strconv.Itoa(port) + "/",
		"http://[::ffff:127.0.0.1]:" + strconv.Itoa(port) + "/",
	} {
		d := newDriver(t, url, "", func(c *webhook.Config) { c.AllowPrivateNetworks = false; c.TLS = config.TLS{} })
		err := d.Send(context.Background(), []*event.Event{testEvent(nil)})
		var blocked *webhook.BlockedError
		if c := sink.Classify(err); c.Class != sink.Permanent || !errors.As(err, &blocked) {
			t.Errorf("%s: Send = %v, want a permanent SSRF refusal", url, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("receiver saw %d requests through the guard", n)
	}
}

func loopbackInterface(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Name
		}
	}
	t.Skip("no loopback interface")
	return ""
}

// Zones, IPv4 embedded in IPv6, and the transition ranges.
func TestGuardDecisionsIPv6Special(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"::1%lo", true},
		{"fe80::1%eth0", true},
		{"fd00:ec2::254%eth0", true}, // the cloud metadata service over IPv6
		{"::a9fe:a9fe", true},        // ::/96 IPv4-compatible 169.254.169.254
		{"::808:808", true},          // ::/96 is deprecated: refused whatever it embeds
		{"::ffff:0:7f00:1", true},    // ::ffff:0:0:0/96 (SIIT) 127.0.0.1
		{"::ffff:0:808:808", true},
		{"::ffff:169.254.169.254", true}, // IPv4-mapped
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 well-known prefix: the IPv4 it embeds decides
		{"64:ff9b::a00:1", true},
		{"64:ff9b::7f00:1", true},
		{"64:ff9b::808:808", false},
		{"64:ff9b:1::808:808", true},                   // local-use NAT64: its mapping is the network's own
		{"2002:7f00:1::1", true},                       // 6to4 of 127.0.0.1
		{"2002:808:808::1", true},                      // 6to4 is deprecated: refused whatever it embeds
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true}, // Teredo
		{"2606:4700::1111%eth0", false},
		{"2606:4700::1111", false},
	}
	for _, tt := range tests {
		err := webhook.CheckAddr(netip.MustParseAddr(tt.addr))
		if (err != nil) != tt.blocked {
			t.Errorf("CheckAddr(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
		}
	}
}

// Every block of the IANA IPv4 and IPv6 special-purpose address registries
// that is not globally reachable, plus the deprecated ranges that a public
// receiver never has: fec0::/10 (site-local) and 192.88.99.0/24 (6to4
// relay anycast) once went through.
func TestGuardSpecialPurposeRegistries(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		// IPv4 (RFC 6890 and its updates)
		{"0.0.0.0", true},
		{"10.1.2.3", true},
		{"100.64.0.1", true}, // shared address space (carrier-grade NAT)
		{"100.127.255.254", true},
		{"100.128.0.1", false},
		{"127.0.0.1", true},
		{"169.254.169.254", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"172.32.0.1", false},
		{"192.0.0.9", true}, // IETF protocol assignments
		{"192.0.2.1", true},
		{"192.88.99.1", true}, // 6to4 relay anycast (deprecated)
		{"192.168.1.1", true},
		{"198.18.0.1", true}, // benchmarking
		{"198.19.255.254", true},
		{"198.20.0.1", false},
		{"198.51.100.1", true},
		{"203.0.113.1", true},
		{"224.0.0.1", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		// IPv6
		{"::", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},      // IPv4-mapped: the IPv4 address decides
		{"::ffff:100.64.0.1", true},     // IPv4-mapped carrier-grade NAT
		{"::ffff:192.88.99.1", true},    // IPv4-mapped 6to4 relay
		{"64:ff9b::c058:6301", true},    // NAT64 of 192.88.99.1
		{"64:ff9b::6440:1", true},       // NAT64 of 100.64.0.1
		{"64:ff9b::c612:1", true},       // NAT64 of 198.18.0.1
		{"100::1", true},                // discard-only
		{"2001:2::1", true},             // benchmarking
		{"2001:10::1", true},            // ORCHID (deprecated)
		{"2001:20::1", true},            // ORCHIDv2
		{"2001:db8::1", true},           // documentation
		{"3fff::1", true},               // documentation (RFC 9637)
		{"5f00::1", true},               // SRv6 SIDs (RFC 9602)
		{"fc00::1", true},               // unique local
		{"fd00::1", true},               // unique local
		{"fe80::1", true},               // link-local
		{"fec0::1", true},               // site-local (deprecated)
		{"feff:ffff::1", true},          // the top of fec0::/10
		{"ff02::1", true},               // multicast
		{"2001:4860:4860::8888", false}, // a public resolver
		{"2a00:1450:4001::1", false},
	}
	for _, tt := range tests {
		err := webhook.CheckAddr(netip.MustParseAddr(tt.addr))
		if (err != nil) != tt.blocked {
			t.Errorf("CheckAddr(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
		}
	}
}

// A webhook written through the API without api.allow: [private_networks]
// dials through the guard whatever its block says: a record stored with
// allow_private_networks before the rule reaches no loopback receiver.
func TestConfinedWebhookIsGuardedWhateverItsBlock(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	spec := `{"name":"w","events":[">"],"webhook":{"url":"` + srv.URL + `","secrets":["` + secret + `"],"allow_private_networks":true}}`
	s, err := config.Loader{}.ParseSink([]byte(spec), config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	sinktest.RequireSendRefused(t, s)
	if n := hits.Load(); n != 0 {
		t.Errorf("receiver saw %d requests through the guard", n)
	}
}

// An API webhook whose url is a private or loopback address is refused
// when judged, as a nats url is, unless api.allow lists private_networks;
// a name is judged when dialed.
func TestAPIWebhookPrivateURLIsGoverned(t *testing.T) {
	for _, tt := range []struct {
		url   string
		allow []string
		want  bool // refused on webhook.url
	}{
		{"https://127.0.0.1:8443/h", nil, true},
		{"https://[::1]/h", nil, true},
		{"https://169.254.169.254/latest/meta-data/", nil, true},
		{"http://10.0.0.5/h", nil, true},
		{"https://127.0.0.1:8443/h", []string{config.AllowPrivateNetworks}, false},
		{"https://hooks.example.com/h", nil, false},
		{"https://localhost/h", nil, false}, // a name: the dial decides
	} {
		cfg := config.Defaults()
		cfg.API.Allow = tt.allow
		spec := `{"name":"w","events":[">"],"webhook":{"url":"` + tt.url + `","secrets":["` + secret + `"]}}`
		s, err := config.Loader{}.ParseSink([]byte(spec), cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		fe := cfg.API.APIRestrictions(s)
		if got := len(fe) == 1 && fe[0].Field == "webhook.url"; got != tt.want || (!tt.want && len(fe) > 0) {
			t.Errorf("%s (allow %v): APIRestrictions = %v, want refused=%v", tt.url, tt.allow, fe, tt.want)
		}
	}
}
