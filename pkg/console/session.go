package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Session cookie and CSRF header names. The console's JavaScript sends
// the CSRF value (rendered into each page) with every /v1 call.
const (
	SessionCookie = "switchyard_session"
	CSRFHeader    = "X-Switchyard-CSRF"
	sessionTTL    = 12 * time.Hour
)

// Sessions issues and checks console sessions. They are stateless: a
// cookie is an expiry signed with a key derived from the admin token, so
// every replica accepts it, a restart keeps it, and changing the token
// ends every session. The CSRF value is a second MAC over the cookie,
// which a page of another site can neither read nor compute.
type Sessions struct {
	key []byte // nil: no token, no login
	now func() time.Time
}

// NewSessions derives the session key from the admin token ("" → no login).
func NewSessions(token string) *Sessions {
	s := &Sessions{now: time.Now}
	if token != "" {
		k := sha256.Sum256([]byte("switchyard console session v1\x00" + token))
		s.key = k[:]
	}
	return s
}

// Enabled reports whether a login is needed (a token is configured).
func (s *Sessions) Enabled() bool { return s.key != nil }

func (s *Sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Issue sets a fresh session cookie: HttpOnly, SameSite=Strict, Secure
// when the request came over TLS.
func (s *Sessions) Issue(w http.ResponseWriter, r *http.Request) {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: exp + "." + s.mac("session", exp), Path: "/",
		MaxAge: int(sessionTTL / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// Clear ends the browser's session.
func (s *Sessions) Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// cookie returns the request's session cookie when it is valid and not
// expired, "" otherwise.
func (s *Sessions) cookie(r *http.Request) string {
	if s.key == nil {
		return ""
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	exp, sig, ok := strings.Cut(c.Value, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", exp))) != 1 {
		return ""
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() >= n {
		return ""
	}
	return c.Value
}

// LoggedIn reports whether the request carries a valid session cookie.
func (s *Sessions) LoggedIn(r *http.Request) bool { return s.cookie(r) != "" }

// CSRF is the value a page's calls must send in CSRFHeader ("" without
// a session).
func (s *Sessions) CSRF(r *http.Request) string {
	c := s.cookie(r)
	if c == "" {
		return ""
	}
	return s.mac("csrf", c)
}

// Authorized reports whether an API request is made by a session: a valid
// cookie and the CSRF header that goes with it.
func (s *Sessions) Authorized(r *http.Request) bool {
	want := s.CSRF(r)
	return want != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(want)) == 1
}
