package console_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/console"
)

// Sessions live in the shared state bucket: a session opened on replica
// A works on replica B, and a logout on A ends it on B too; before, a
// copy of the cookie kept working everywhere for 12 hours.
func TestLogoutEndsSessionOnEveryReplica(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	var addrs []string
	for range 2 {
		g, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: fmt.Sprintf(`
nats: {url: %q}
admin: {listen: "127.0.0.1:0", token: %q}
shutdown_grace: 1s
stream: {max_bytes: 8MB}
dead_letters: {max_bytes: 4MB}
`, js.URL(), token), StopWithin: 15 * time.Second})
		addrs = append(addrs, "http://"+g.AdminAddr())
	}
	jar, _ := cookiejar.New(nil)
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	a := &client{t: t, base: addrs[0], c: &http.Client{Jar: jar, CheckRedirect: noRedirect}}
	if resp, body := a.do("POST", "/v1/session", `{"token":"`+token+`"}`, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login on A: %s %s", resp.Status, body)
	}
	_, page := a.do("GET", "/", "", nil)
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF value in the page:\n%s", page)
	}
	stolen := jar.Cookies(mustURL(t, addrs[0]))
	if len(stolen) != 1 {
		t.Fatalf("cookies after login: %v", stolen)
	}
	// B gets the cookie by hand, as a thief would (a jar keeps cookies
	// per host and port).
	b := &client{t: t, base: addrs[1], c: &http.Client{CheckRedirect: noRedirect}}
	onB := func() int {
		resp, _ := b.do("GET", "/v1/sinks", "", map[string]string{console.CSRFHeader: m[1], "Cookie": stolen[0].Name + "=" + stolen[0].Value})
		return resp.StatusCode
	}
	if code := onB(); code != http.StatusOK {
		t.Fatalf("A's session on B: %d, want 200", code)
	}
	if resp, _ := a.do("DELETE", "/v1/session", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout on A: %s", resp.Status)
	}
	if code := onB(); code != http.StatusUnauthorized {
		t.Fatalf("the cookie on B after a logout on A: %d, want 401", code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
