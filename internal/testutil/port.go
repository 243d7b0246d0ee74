package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a loopback port that was free a moment ago, for a
// server that binds it later (a child process, a restart on the same
// port, a cluster's routes).
//
// It is drawn from outside the kernel's ephemeral range: that range is
// where every listener on port 0 (httptest, nats-server's random port)
// and every outgoing connection's source port come from, and with the
// whole suite's packages running at once one of those took a port between
// this call and the bind (a CI run's child gateway: "embedded server not
// ready after 15s"). Drawn at random, so that tests in other processes
// seldom draw the same one.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo, hi, ok := outsideEphemeral(); ok {
		for range 100 {
			p := lo + rand.IntN(hi-lo+1)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				_ = l.Close()
				return p
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralRange is where Linux keeps it.
const ephemeralRange = "/proc/sys/net/ipv4/ip_local_port_range"

// outsideEphemeral is the wider of the two ranges of up to 12,000 ports
// on either side of the ephemeral range, kept above 10,000 (clear of the
// well-known ports, NATS's 4222 among them), if it holds a thousand.
func outsideEphemeral() (lo, hi int, ok bool) {
	b, err := os.ReadFile(ephemeralRange)
	if err != nil {
		return 0, 0, false
	}
	return rangeOutside(string(b))
}

func rangeOutside(ephemeral string) (lo, hi int, ok bool) {
	f := strings.Fields(ephemeral)
	if len(f) != 2 {
		return 0, 0, false
	}
	first, err1 := strconv.Atoi(f[0])
	last, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || first > last {
		return 0, 0, false
	}
	belowLo, aboveHi := max(10000, first-12000), min(65535, last+12000)
	below, above := first-belowLo, aboveHi-last
	switch {
	case below >= above && below >= 1000:
		return belowLo, first - 1, true
	case above >= 1000:
		return last + 1, aboveHi, true
	}
	return 0, 0, false
}
