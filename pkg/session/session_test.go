package session

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// clock is a settable now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newManager(o Options, c *clock) *Manager {
	m := New(o)
	if c != nil {
		m.now = c.now
	}
	return m
}

// login starts a session on m, the request carrying old (if any), and
// returns its cookie.
func login(t *testing.T, m *Manager, tlsOn bool, old *http.Cookie) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/session", nil)
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	if old != nil {
		r.AddCookie(old)
	}
	w := httptest.NewRecorder()
	if err := m.Issue(w, r); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies: %v", cs)
	}
	return cs[0]
}

// call is an API request with cookie c and, unless csrf is "", the CSRF
// header.
func call(c *http.Cookie, csrf string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/sinks", nil)
	if c != nil {
		r.AddCookie(c)
	}
	if csrf != "" {
		r.Header.Set(CSRFHeader, csrf)
	}
	return r
}

func csrfOf(m *Manager, c *http.Cookie) string { return m.CSRF(call(c, "")) }

func TestSessionCookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		name        string
		listenerTLS bool // admin.tls set
		requestTLS  bool // the request came over TLS (a proxy's, say)
		wantName    string
		wantSecure  bool
	}{
		{"plain HTTP", false, false, "switchyard_session", false},
		{"TLS seen on the request only", false, true, "switchyard_session", true},
		{"the listener serves TLS", true, true, "__Host-switchyard_session", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Token: "tok", TLS: tt.listenerTLS})
			c := login(t, m, tt.requestTLS, nil)
			if c.Name != tt.wantName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != tt.wantSecure || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %+v", c)
			}
			// A __Host- cookie is what the manager reads back, not the plain name.
			if !m.Authorized(call(c, csrfOf(m, c))) {
				t.Errorf("its own cookie is not authorized")
			}
		})
	}
	m := New(Options{Token: "tok", TLS: true})
	c := login(t, m, true, nil)
	plain := &http.Cookie{Name: CookieName, Value: c.Value}
	if m.LoggedIn(call(plain, "")) {
		t.Error("with TLS, a cookie without the __Host- prefix (one another port or a subdomain could set) is taken")
	}
}

func TestSessionAuthorization(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	store := NewMemStore()
	s := newManager(Options{Token: "tok", Store: store}, clk)
	good := login(t, s, false, nil)
	csrf := csrfOf(s, good)
	tampered := *good
	tampered.Value = good.Value[:len(good.Value)-1] + "A"
	if tampered.Value == good.Value {
		tampered.Value = good.Value[:len(good.Value)-1] + "B"
	}
	for _, tt := range []struct {
		name   string
		s      *Manager
		cookie *http.Cookie
		csrf   string
		want   bool
	}{
		{"cookie and CSRF", s, good, csrf, true},
		{"no CSRF header", s, good, "", false},
		{"wrong CSRF header", s, good, csrf + "x", false},
		{"no cookie", s, nil, csrf, false},
		{"tampered id", s, &tampered, csrf, false},
		{"the token changed", newManager(Options{Token: "other", Store: store}, clk), good, csrf, false},
		{"no token configured", newManager(Options{Store: store}, clk), good, csrf, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Authorized(call(tt.cookie, tt.csrf)); got != tt.want {
				t.Fatalf("Authorized = %v, want %v", got, tt.want)
			}
		})
	}
	if csrf == "" || csrf == good.Value {
		t.Fatalf("csrf %q", csrf)
	}
	// The store holds a keyed hash of the id, never the id.
	keys, _ := store.Keys(context.Background())
	for _, k := range keys {
		if strings.Contains(k, good.Value) {
			t.Fatalf("the store's key %q holds the session id", k)
		}
		if v, _, _ := store.Get(context.Background(), k); strings.Contains(string(v), good.Value) {
			t.Fatalf("the store's record %q holds the session id", v)
		}
	}
}

// A session unused for the idle timeout ends; one in use lives until the
// absolute limit, then ends however busy.
func TestSessionExpiry(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	m := newManager(Options{Token: "tok"}, clk)
	idle := login(t, m, false, nil)
	clk.t = clk.t.Add(DefaultIdleTimeout - time.Minute)
	if !m.LoggedIn(call(idle, "")) {
		t.Fatal("ended before the idle timeout")
	}
	clk.t = clk.t.Add(DefaultIdleTimeout)
	if m.LoggedIn(call(idle, "")) {
		t.Fatal("still alive after the idle timeout without a use")
	}

	busy := login(t, m, false, nil)
	start := clk.t
	for clk.t.Before(start.Add(DefaultMaxAge - 10*time.Minute)) {
		clk.t = clk.t.Add(10 * time.Minute)
		if !m.LoggedIn(call(busy, "")) {
			t.Fatalf("a session in use ended after %s", clk.t.Sub(start))
		}
	}
	clk.t = start.Add(DefaultMaxAge)
	if m.LoggedIn(call(busy, "")) {
		t.Fatal("a session in use outlived the absolute limit")
	}
	if keys, _ := m.store.Keys(context.Background()); len(keys) != 0 {
		t.Fatalf("ended sessions left in the store: %v", keys)
	}
}

// A login starts a new id and ends the one the browser came with, so an
// id planted before the login (fixation) or copied before it is void.
func TestLoginRotatesSessionID(t *testing.T) {
	m := New(Options{Token: "tok"})
	first := login(t, m, false, nil)
	second := login(t, m, false, first)
	if second.Value == first.Value {
		t.Fatal("a login kept the session id")
	}
	if m.LoggedIn(call(first, "")) {
		t.Fatal("the id from before the login still works")
	}
	if !m.LoggedIn(call(second, "")) {
		t.Fatal("the new id does not work")
	}
}

// On the state bucket, what one replica ends, every replica sees ended,
// and a refresh racing a logout does not bring the session back.
func TestKVStoreLogoutIsShared(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	b, _ := testutil.OpenBus(t, js, nil)
	kv, err := b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{time.Now()}
	a := newManager(Options{Token: "tok", Store: KVStore{KV: kv}}, clk)
	bb := newManager(Options{Token: "tok", Store: KVStore{KV: kv}}, clk)
	c := login(t, a, false, nil)
	if !bb.Authorized(call(c, csrfOf(a, c))) {
		t.Fatal("A's session is not good on B")
	}
	key := a.storeKey(c.Value)
	_, rev, err := a.store.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.Clear(w, call(c, ""))
	if err := bb.store.Update(t.Context(), key, []byte(`{}`), rev); err == nil {
		t.Fatal("a refresh after the logout was stored")
	}
	clk.t = clk.t.Add(2 * touchEvery)
	if bb.LoggedIn(call(c, "")) {
		t.Fatal("A's logout did not end the session on B")
	}
}
