package admin_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/console"
)

// reviewedPublicPages are the console's pages anyone the listener answers
// may see, as a review listed them. Every other page needs a console session.
var reviewedPublicPages = map[string]string{
	"GET /login":   "the login form",
	"GET /assets/": "the console's own scripts and styles, embedded",
}

// consolePatterns are the patterns pkg/console serves, from the table its
// Handler is built from (console.Patterns): the admin listener serves them
// under "/", apart from build's list, so a page added to the console is
// judged here the day it is written.
func consolePatterns(t *testing.T) []string {
	t.Helper()
	patterns := console.Patterns()
	if len(patterns) < 10 {
		t.Fatalf("only %d console routes found: %v", len(patterns), patterns)
	}
	return patterns
}

// Every page of the console, with every kind of caller: with admin.token,
// a page needs a console session (a browser without one, or with only a
// bearer token, is sent to the login page, 303), the reviewed public
// pages answer anyone; without admin.token, a foreign Host gets 403 and a
// loopback one the page. The pages come from the table the console serves
// from, so a new page is judged the day it is written.
func TestEveryConsolePageGivesEachCallerItsPower(t *testing.T) {
	b := routeGateway(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	withToken := b.AdminHandler(admin.Options{Token: adminToken, Logger: quiet})
	noToken := b.AdminHandler(admin.Options{Logger: quiet})
	session := consoleSession(t, withToken)
	seen := map[string]bool{}
	for _, pattern := range consolePatterns(t) {
		method, path, found := strings.Cut(pattern, " ")
		if !found { // no method: the catch-all answers every method
			method, path = http.MethodGet, pattern
		}
		if method != http.MethodGet {
			t.Errorf("console route %q changes state: the console's pages only read (its scripts call /v1)", pattern)
			continue
		}
		seen[method+" "+path] = true
		public := reviewedPublicPages[method+" "+path] != ""
		if path == "/" {
			path = "/no-such-page" // the catch-all: what no other pattern takes
		}
		t.Run(pattern, func(t *testing.T) {
			send := func(h http.Handler, host, peer string, hdr map[string]string) *httptest.ResponseRecorder {
				r := request(method+" "+path, host)
				r.RemoteAddr = peer
				for k, v := range hdr {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			toLogin := func(name string, w *httptest.ResponseRecorder) {
				t.Helper()
				if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
					t.Errorf("%s: %d Location %q, want 303 to the login page", name, w.Code, loc)
				}
			}
			shown := func(name string, w *httptest.ResponseRecorder) {
				t.Helper()
				// The login page sends a browser it needs not ask home (303 to /).
				toLogin := w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/login")
				if toLogin || w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden {
					t.Errorf("%s: %d (Location %q), want the page", name, w.Code, w.Header().Get("Location"))
				}
			}
			for _, c := range []struct {
				name string
				hdr  map[string]string
			}{
				{"no credentials", nil},
				{"a wrong bearer token", map[string]string{"Authorization": "Bearer wrong"}},
				{"the admin token as a bearer token", map[string]string{"Authorization": "Bearer " + adminToken}},
				{"a cookie that names no session", map[string]string{"Cookie": strings.SplitN(session.cookie, "=", 2)[0] + "=forged"}},
			} {
				if w := send(withToken, serviceHost, remotePeer, c.hdr); public {
					shown(c.name, w)
				} else {
					toLogin(c.name, w)
				}
			}
			shown("a console session", send(withToken, serviceHost, remotePeer, map[string]string{"Cookie": session.cookie}))
			shown("no token configured, loopback", send(noToken, loopbackHost, loopbackPeer, nil))
			if w := send(noToken, foreignHost, loopbackPeer, nil); w.Code != http.StatusForbidden {
				t.Errorf("no token configured, foreign Host: %d, want 403", w.Code)
			}
		})
	}
	for p := range reviewedPublicPages {
		if !seen[p] {
			t.Errorf("reviewed public page %q is not served", p)
		}
	}
}
