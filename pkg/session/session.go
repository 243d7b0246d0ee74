// Package session keeps the admin console's login sessions on the server:
// a cookie carries a random id, the store (the gateway's state bucket,
// shared by replicas) holds a record under a keyed hash of it, so a
// logout, an idle or an absolute expiry ends the session on every replica
// and a copied cookie stops working with it. It sits below both the admin
// API (which logs in and out, and accepts a session with its CSRF header)
// and the console (which reads who is logged in); the gateway builds the
// one Manager and hands it to both.
package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Cookie names and the CSRF header. With TLS the cookie carries the
// __Host- prefix: a browser then takes it only over HTTPS, for this host
// alone (no Domain), so a service on another port or a sibling domain
// cannot set or shadow it. The console's JavaScript sends the CSRF value
// (rendered into each page) with every /v1 call.
const (
	CookieName    = "switchyard_session"
	TLSCookieName = "__Host-switchyard_session"
	CSRFHeader    = "X-Switchyard-CSRF"
)

// Defaults of Options.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 12 * time.Hour
	// touchEvery is how stale a session's last use may get before a use
	// writes it again: the idle expiry is this coarse, and a page that
	// polls every 2 s does not write the bucket every 2 s.
	touchEvery = time.Minute
	// storeTimeout bounds one look-up or write.
	storeTimeout = 5 * time.Second
)

// Options configure a Manager.
type Options struct {
	// Token is the admin token ("" → no login, no sessions). Records are
	// keyed by a MAC of the session id with a key drawn from it, so a new
	// token ends every session.
	Token string
	// Store keeps the records; nil: a MemStore (this process only).
	Store Store
	// TLS: the listener serves TLS; the cookie is Secure and named
	// TLSCookieName.
	TLS bool
	// IdleTimeout ends a session unused this long; MaxAge ends any
	// session this long after its login. Zero: the defaults.
	IdleTimeout, MaxAge time.Duration
	Logger              *slog.Logger
}

// Manager issues, checks and ends sessions.
type Manager struct {
	key   []byte // nil: no token, no login
	store Store
	tls   bool
	idle  time.Duration
	max   time.Duration
	log   *slog.Logger
	now   func() time.Time
}

// record is what the store holds for a session (never its id).
type record struct {
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
}

// New builds a Manager.
func New(o Options) *Manager {
	m := &Manager{store: o.Store, tls: o.TLS, idle: o.IdleTimeout, max: o.MaxAge, log: o.Logger, now: time.Now}
	if o.Token != "" {
		k := sha256.Sum256([]byte("switchyard console session v2\x00" + o.Token))
		m.key = k[:]
	}
	if m.store == nil {
		m.store = NewMemStore()
	}
	if m.idle <= 0 {
		m.idle = DefaultIdleTimeout
	}
	if m.max <= 0 {
		m.max = DefaultMaxAge
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// Enabled reports whether a login is needed (a token is configured).
func (m *Manager) Enabled() bool { return m.key != nil }

// Cookie is the session cookie's name.
func (m *Manager) Cookie() string {
	if m.tls {
		return TLSCookieName
	}
	return CookieName
}

func (m *Manager) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, m.key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// storeKey is the record's key: a MAC of the id, so the store (and its
// backups) never hold a usable id.
func (m *Manager) storeKey(id string) string { return hex.EncodeToString(m.mac("id", id)) }

// Issue starts a fresh session and sets its cookie: HttpOnly,
// SameSite=Strict, Secure with TLS. The session the request came with,
// if any, is ended: an id is never carried across a login (no fixation).
func (m *Manager) Issue(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if old := m.id(r); old != "" {
		m.end(ctx, old)
	}
	m.sweep(ctx)
	id := rand.Text() + rand.Text() // 256 random bits
	now := m.now()
	val, _ := json.Marshal(record{Created: now, Seen: now})
	if err := m.store.Create(ctx, m.storeKey(id), val); err != nil {
		return fmt.Errorf("session: starting one: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.Cookie(), Value: id, Path: "/", MaxAge: int(m.max / time.Second),
		HttpOnly: true, Secure: m.tls || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// Clear ends the request's session on the server (every replica) and in
// the browser.
func (m *Manager) Clear(w http.ResponseWriter, r *http.Request) {
	if id := m.id(r); id != "" {
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		m.end(ctx, id)
	}
	http.SetCookie(w, &http.Cookie{Name: m.Cookie(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: m.tls || r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (m *Manager) end(ctx context.Context, id string) {
	if err := m.store.Delete(ctx, m.storeKey(id)); err != nil {
		m.log.Warn("session: ending a session", "err", err)
	}
}

// sweep ends the sessions that expired without a logout, so the store
// holds only live ones; run at each login.
func (m *Manager) sweep(ctx context.Context) {
	keys, err := m.store.Keys(ctx)
	if err != nil {
		m.log.Warn("session: listing sessions", "err", err)
		return
	}
	now := m.now()
	for _, k := range keys {
		val, _, err := m.store.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec record
		if json.Unmarshal(val, &rec) != nil || m.expired(rec, now) {
			_ = m.store.Delete(ctx, k)
		}
	}
}

func (m *Manager) expired(rec record, now time.Time) bool {
	return !now.Before(rec.Created.Add(m.max)) || !now.Before(rec.Seen.Add(m.idle))
}

// id returns the request's session id when its cookie names a live
// session, "" otherwise; a use refreshes the session's idle time.
func (m *Manager) id(r *http.Request) string {
	if m.key == nil {
		return ""
	}
	c, err := r.Cookie(m.Cookie())
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	key := m.storeKey(c.Value)
	val, rev, err := m.store.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			m.log.Warn("session: looking one up (refused)", "err", err)
		}
		return ""
	}
	var rec record
	now := m.now()
	if json.Unmarshal(val, &rec) != nil || m.expired(rec, now) {
		_ = m.store.Delete(ctx, key)
		return ""
	}
	if now.Sub(rec.Seen) >= touchEvery {
		rec.Seen = now
		val, _ = json.Marshal(rec)
		// A failed update is a concurrent refresh (fine) or an end (the
		// next look-up sees it); it never brings an ended session back.
		_ = m.store.Update(ctx, key, val, rev)
	}
	return c.Value
}

// LoggedIn reports whether the request carries a live session's cookie.
func (m *Manager) LoggedIn(r *http.Request) bool { return m.id(r) != "" }

// CSRF is the value a page's calls must send in CSRFHeader ("" without
// a session): a MAC of the session id, which a page of another site can
// neither read nor compute.
func (m *Manager) CSRF(r *http.Request) string {
	id := m.id(r)
	if id == "" {
		return ""
	}
	return m.csrf(id)
}

func (m *Manager) csrf(id string) string {
	return base64.RawURLEncoding.EncodeToString(m.mac("csrf", id))
}

// Authorized reports whether an API request is made by a session: a live
// session's cookie and the CSRF header that goes with it.
func (m *Manager) Authorized(r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return false
	}
	id := m.id(r)
	return id != "" && subtle.ConstantTimeCompare([]byte(got), []byte(m.csrf(id))) == 1
}
