// Package console is Switchyard's web console: server-rendered pages that
// read through the admin API's roles (Reader) and change nothing
// themselves. Every state change (pause, test, rotate, edit, redrive,
// purge, replay) is the page's JavaScript calling the /v1 admin API with
// the session cookie and CSRF header, so the API stays the one path to
// state. Assets are embedded: nothing is loaded from another host. A page
// is its pages_*.go file, which adds its pattern and handler to the table
// Handler serves (addPage, in init), and its template.
package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/session"
)

// Reader is what the pages read: the read-only methods of the admin API's
// roles, one field per role. The console has no handle on a method that
// changes state. Each role's interface sits in the page file named for
// that role (pages_events.go holds EventsReader), so a page there on a
// method the console does not read yet is still one .go file.
type Reader struct {
	Sinks       SinksReader
	Endpoints   EndpointsReader
	DeadLetters DeadLettersReader
	Events      EventsReader
	Replays     ReplaysReader
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// contentSecurityPolicy allows only this origin's scripts and styles (no
// inline script or style), no framing, no plugins.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

type server struct {
	b        Reader
	sessions *session.Manager
	pages    map[string]*template.Template
	rates    rateTracker
}

// Handler serves the console. b's fields may be nil only in tests that
// never ask for a page.
func Handler(b Reader, sessions *session.Manager) http.Handler {
	s := &server{b: b, sessions: sessions, pages: parsePages(), rates: rateTracker{last: map[string]sample{}}}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, rt.handler)
	}
	return securityHeaders(mux)
}

// served is one pattern the console answers and its handler.
type served struct {
	pattern string
	handler http.Handler
}

// routes are what Handler serves: the assets and the login page to anyone,
// and behind a console session every page of pageRoutes and, for any
// other path, a page saying there is none.
func (s *server) routes() []served {
	assets, _ := fs.Sub(assetFS, "assets")
	all := []served{
		{"GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets))},
		{"GET /login", http.HandlerFunc(s.login)},
		{"/", s.auth(s.notFound)},
	}
	for _, p := range pageRoutes {
		all = append(all, served{p.pattern, s.auth(func(w http.ResponseWriter, r *http.Request) { p.serve(s, w, r) })})
	}
	return all
}

// Patterns are the patterns Handler serves, so that the admin API's
// route-auth test judges every page, a new one included, with every kind
// of caller.
func Patterns() []string {
	var out []string
	for _, rt := range (&server{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Error: "No page at " + r.URL.Path + "."})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// auth sends a browser without a session to the login page (when a token
// is configured; without one the admin listener answers loopback only).
func (s *server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.sessions.Enabled() && !s.sessions.LoggedIn(r) {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next(w, r)
	}
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if !s.sessions.Enabled() || s.sessions.LoggedIn(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: next})
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the nav entry to mark current
	CSRF  string
	Auth  bool // a login exists (show "Log out")
	Error string
	Data  any
}

func (s *server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	t := s.pages[name]
	p.CSRF = s.sessions.CSRF(r)
	p.Auth = s.sessions.Enabled()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		slog.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// fail renders an error page for a backend error.
func (s *server) fail(w http.ResponseWriter, r *http.Request, title string, err error) {
	s.render(w, r, http.StatusInternalServerError, "error", page{Title: title, Error: err.Error()})
}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/attempts.html"))
	out := map[string]*template.Template{}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "attempts" {
			continue
		}
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return out
}
