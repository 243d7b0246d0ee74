package admin

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// The table of failing addresses is bounded: an attacker with many
// addresses evicts the oldest, never grows it past authClientsKept; and a
// throttled address gets its failures back with time.
func TestAuthGuardBounded(t *testing.T) {
	g := newAuthGuard(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	now := time.Unix(1_700_000_000, 0)
	g.now = func() time.Time { return now }
	for i := range authClientsKept + 500 {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + ":1"
		g.failed(r, reasonWrongToken)
	}
	if len(g.clients) != authClientsKept || g.lru.Len() != authClientsKept {
		t.Fatalf("%d addresses kept (list %d), want %d", len(g.clients), g.lru.Len(), authClientsKept)
	}

	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = "[2001:db8::1]:1"
	for range authFailureBurst {
		g.failed(r, reasonWrongToken)
	}
	other := httptest.NewRequest("GET", "/metrics", nil)
	other.RemoteAddr = "[2001:db8::2]:1" // the same /64
	if w := httptest.NewRecorder(); !g.throttled(w, other) || w.Header().Get("Retry-After") != "6" {
		t.Fatalf("same /64 after a burst: not throttled (%v)", w.Header())
	}
	now = now.Add(authFailureEvery)
	if w := httptest.NewRecorder(); g.throttled(w, other) {
		t.Fatalf("throttled after %s: %v", authFailureEvery, w.Header())
	}
}
