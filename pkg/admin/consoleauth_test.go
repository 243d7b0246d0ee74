package admin_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/admin"
)

// reviewedPublicPages are the console's pages anyone the listener answers
// may see, as a review listed them. Every other page needs a console session.
var reviewedPublicPages = map[string]string{
	"GET /login":   "the login form",
	"GET /assets/": "the console's own scripts and styles, embedded",
}

// consolePatterns reads the patterns pkg/console registers from its
// source: the admin listener serves them under "/", apart from build's
// list, so they are read where they are written. A registration whose
// pattern is not a literal fails the test naming it, so no page goes
// unjudged.
func consolePatterns(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "console")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) != 2 {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a console route whose pattern this test cannot read; write it as a literal", fset.Position(call.Pos()))
					return true
				}
				p, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				patterns = append(patterns, p)
				return true
			})
		}
	}
	if len(patterns) < 10 {
		t.Fatalf("only %d console routes found in %s: %v", len(patterns), dir, patterns)
	}
	return patterns
}

// Every page of the console, with every kind of caller: with admin.token,
// a page needs a console session (a browser without one, or with only a
// bearer token, is sent to the login page, 303), the reviewed public
// pages answer anyone; without admin.token, a foreign Host gets 403 and a
// loopback one the page. The pages are read from the console's source, so
// a new page is judged the day it is written.
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
