package testutil

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestRangeOutside(t *testing.T) {
	for _, tc := range []struct {
		ephemeral string
		lo, hi    int
		ok        bool
	}{
		{"32768\t60999\n", 20768, 32767, true}, // Linux's default
		{"40000 65535", 28000, 39999, true},
		{"1024 30000", 30001, 42000, true},
		{"10500 65000", 0, 0, false}, // 500 below, 535 above: too few either side
		{"1024 65535", 0, 0, false},
		{"60999 32768", 0, 0, false},
		{"nonsense", 0, 0, false},
	} {
		lo, hi, ok := rangeOutside(tc.ephemeral)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("%q: %d–%d %v, want %d–%d %v", tc.ephemeral, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// No port FreePort hands out can be taken meanwhile as the source port of
// an outgoing connection: it is outside the ephemeral range.
func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile(ephemeralRange)
	if err != nil {
		t.Skipf("no ephemeral range to check against: %v", err)
	}
	f := strings.Fields(string(b))
	first, _ := strconv.Atoi(f[0])
	last, _ := strconv.Atoi(f[1])
	for range 50 {
		if p := FreePort(t); p >= first && p <= last {
			t.Fatalf("port %d is inside the ephemeral range %d–%d", p, first, last)
		}
	}
}
