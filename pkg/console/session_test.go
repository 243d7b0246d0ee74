package console

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// issue logs a browser in and returns its cookie.
func issue(t *testing.T, s *Sessions, tlsOn bool) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("POST", "/v1/session", nil)
	if tlsOn {
		r.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	s.Issue(w, r)
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies: %v", cs)
	}
	return cs[0]
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		c := issue(t, NewSessions("tok"), tlsOn)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != tlsOn || c.Path != "/" {
			t.Errorf("tls=%v: cookie %+v", tlsOn, c)
		}
	}
}

func TestSessionAuthorization(t *testing.T) {
	s := NewSessions("tok")
	good := issue(t, s, false)
	req := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", "/v1/sinks", nil)
		if c != nil {
			r.AddCookie(c)
		}
		return r
	}
	csrf := s.CSRF(req(good))
	expired := NewSessions("tok")
	expired.now = func() time.Time { return time.Now().Add(-13 * time.Hour) }
	old := issue(t, expired, false)
	tampered := *good
	tampered.Value = "9999999999" + good.Value[len("9999999999"):]
	for _, tt := range []struct {
		name   string
		s      *Sessions
		cookie *http.Cookie
		csrf   string
		want   bool
	}{
		{"cookie and CSRF", s, good, csrf, true},
		{"no CSRF header", s, good, "", false},
		{"wrong CSRF header", s, good, csrf + "x", false},
		{"no cookie", s, nil, csrf, false},
		{"expired", s, old, s.CSRF(req(old)), false},
		{"tampered expiry", s, &tampered, csrf, false},
		{"the token changed", NewSessions("other"), good, csrf, false},
		{"no token configured", NewSessions(""), good, csrf, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := req(tt.cookie)
			if tt.csrf != "" {
				r.Header.Set(CSRFHeader, tt.csrf)
			}
			if got := tt.s.Authorized(r); got != tt.want {
				t.Fatalf("Authorized = %v, want %v", got, tt.want)
			}
		})
	}
	if csrf == "" || csrf == good.Value {
		t.Fatalf("csrf %q", csrf)
	}
}
