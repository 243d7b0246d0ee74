package console

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/session"
)

// init adds a page written in one file: its registration and its
// handler, nothing else in the package told about it (it renders the
// error template, as a test file cannot add one to the embedded
// templates).
func init() { addPage("GET /one-file/{name}", (*server).oneFilePage) }

func (s *server) oneFilePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "error", page{Title: "One file", Error: "one file serves " + r.PathValue("name")})
}

// The page above is served, behind a console session like every page, and
// is among the patterns the admin API's route-auth test judges
// (TestEveryConsolePageGivesEachCallerItsPower reads console.Patterns).
func TestAPageIsOneFile(t *testing.T) {
	if !slices.Contains(Patterns(), "GET /one-file/{name}") {
		t.Fatalf("the page is not in Patterns: %v", Patterns())
	}
	sessions := session.New(session.Options{Token: "one-file-token"})
	h := Handler(Reader{}, sessions)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/one-file/orders", nil))
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/login?next=%2Fone-file%2Forders" {
		t.Fatalf("without a session: %d Location %q, want 303 to the login page", w.Code, loc)
	}

	login := httptest.NewRecorder()
	if err := sessions.Issue(login, httptest.NewRequest("POST", "/v1/session", nil)); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/one-file/orders", nil)
	for _, c := range login.Result().Cookies() {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "one file serves orders") {
		t.Fatalf("with a session: %d %.300s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); csp != contentSecurityPolicy {
		t.Errorf("the page lacks the console's headers: CSP %q", csp)
	}
}
