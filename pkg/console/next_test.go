package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/console"
	"github.com/switchyard-dev/switchyard/pkg/session"
)

// The login's next= never leads off the host: after what a browser does
// to a Location (tabs, CR and LF dropped, "\" read as "/"), it must be a
// path with exactly one leading "/" and no scheme or host; anything else
// becomes "/". Without a token the login redirects at once, so the
// Location is what a browser would follow.
func TestLoginNextStaysOnHost(t *testing.T) {
	h := console.Handler(console.Reader{}, session.New(session.Options{}))
	for _, tt := range []struct {
		rawQuery string // as sent, already URL-encoded
		want     string
	}{
		{"next=/%09/evil.example/x", "/"},
		{"next=/%0A/evil.example/x", "/"},
		{"next=/%0D%0A/evil.example/x", "/"},
		{"next=%09//evil.example/x", "/"},
		{"next=//evil.example/x", "/"},
		{"next=///evil.example/x", "/"},
		{"next=/%5Cevil.example/x", "/"},    // /\x
		{"next=%5C/evil.example/x", "/"},    // \/x
		{"next=%5C%5Cevil.example/x", "/"},  // \\x
		{"next=/%09%5Cevil.example/x", "/"}, // /<tab>\x
		{"next=http://evil.example/x", "/"}, // a scheme
		{"next=https:evil.example", "/"},    // a scheme without slashes
		{"next=javascript:alert(1)", "/"},   // not a path
		{"next=/%2F/evil.example/x", "/"},   // decodes to //evil.example/x
		{"next=/%252F/evil.example/x", "/"}, // /%2F/…: a path that unescapes to //
		{"next=/%255C/evil.example/x", "/"}, // /%5C/…: a path that unescapes to /\
		{"next=%20//evil.example/x", "/"},   // a leading space, stripped by browsers
		{"next=/%00/evil.example/x", "/"},   // other control characters
		{"next=evil.example", "/"},          // relative
		{"next=", "/"},                      // none
		{"next=/", "/"},
		{"next=/sinks/orders", "/sinks/orders"},
		{"next=/sinks/a%252Fb", "/sinks/a%2Fb"}, // a sink name with an escaped slash
		{"next=" + url.QueryEscape("/events?type=order.created&limit=5"), "/events?type=order.created&limit=5"},
		{"next=/logs%23top", "/logs#top"},
	} {
		t.Run(tt.rawQuery, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/login?"+tt.rawQuery, nil))
			loc := w.Header().Get("Location")
			if w.Code != http.StatusSeeOther || loc != tt.want {
				t.Fatalf("GET /login?%s: %d Location %q, want %q", tt.rawQuery, w.Code, loc, tt.want)
			}
			if strings.ContainsAny(loc, "\t\r\n\\") || strings.HasPrefix(loc, "//") {
				t.Fatalf("Location %q could leave the host", loc)
			}
		})
	}
}
