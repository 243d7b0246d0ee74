package webhook_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// A webhook URL's path and query often are its credential; the driver's
// errors end up in logs, the attempt log, dead letters and last_error, so
// they name only scheme://host.
func TestErrorsDoNotNameTheURLsSecrets(t *testing.T) {
	const tokens = "/hooks/PATHTOKEN?token=QUERYTOKEN"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()

	redirecting, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
		w.WriteHeader(http.StatusMovedPermanently)
	})
	tests := []struct {
		name, url string
	}{
		{"transport error", closed + tokens},
		{"redirect", redirecting.URL + tokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, tt.url, ca, nil)
			err := d.Send(context.Background(), []*event.Event{testEvent(nil)})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			for _, s := range []string{"PATHTOKEN", "QUERYTOKEN"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error names %s: %v", s, err)
				}
			}
			if !strings.Contains(err.Error(), "/…") {
				t.Errorf("error does not name the endpoint: %v", err)
			}
		})
	}
}
