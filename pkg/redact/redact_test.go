package redact_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/redact"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cr3t@nats.example:4222", "nats://alice:REDACTED@nats.example:4222"},
		{"nats://t0ken@nats.example:4222", "nats://REDACTED@nats.example:4222"}, // NATS token auth
		{"nats://a:p1@h1:4222, nats://b:p2@h2:4222", "nats://a:REDACTED@h1:4222,nats://b:REDACTED@h2:4222"},
		{"https://hooks.example/in/abc?token=s3cr3t&x=1", "https://hooks.example/in/abc?token=REDACTED&x=REDACTED"},
		{"https://hooks.example/in?s3cr3t", "https://hooks.example/in?REDACTED"},
		{"https://hooks.example/in#s3cr3t", "https://hooks.example/in#REDACTED"},
		{"https://u:p%40ss@hooks.example/", "https://u:REDACTED@hooks.example/"},
		{"http://[::1%25lo]:80/?k=v", "http://[::1%25lo]:80/?k=REDACTED"},
		{"::not a url::s3cr3t", "REDACTED"},
	}
	for _, tt := range tests {
		if got := redact.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURLWith(t *testing.T) {
	got := redact.URLWith("nats://a:pw@h:4222/?q=v", func(s string) string { return "<" + strings.ToUpper(s) + ">" })
	if want := "nats://a:%3CPW%3E@h:4222/?q=%3CV%3E"; got != want {
		t.Errorf("URLWith = %q, want %q", got, want)
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.example", "https://hooks.example"},
		{"https://hooks.example/", "https://hooks.example"},
		{"https://hooks.example/services/T0/B1/s3cr3t", "https://hooks.example/…"},
		{"https://hooks.example?token=s3cr3t", "https://hooks.example/…"},
		{"https://u:pw@hooks.example:8443/x", "https://hooks.example:8443/…"},
		{"/relative/s3cr3t", "REDACTED"},
		{"::bad::s3cr3t", "REDACTED"},
	}
	for _, tt := range tests {
		if got := redact.Endpoint(tt.in); got != tt.want {
			t.Errorf("Endpoint(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The HTTP client's own errors name the whole URL; after Error they name
// only scheme://host, and stay matchable with errors.Is/As.
func TestError(t *testing.T) {
	const raw = "http://127.0.0.1:1/hooks/PATHTOKEN?token=QUERYTOKEN"
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("connected to 127.0.0.1:1")
	}
	if !strings.Contains(err.Error(), "PATHTOKEN") {
		t.Fatalf("precondition: %v names the URL", err)
	}
	for _, in := range []error{err, fmt.Errorf("send: %w", err)} {
		out := redact.Error(in)
		for _, s := range []string{"PATHTOKEN", "QUERYTOKEN"} {
			if strings.Contains(out.Error(), s) {
				t.Errorf("redacted error still holds %s: %v", s, out)
			}
		}
		if !strings.Contains(out.Error(), `"http://127.0.0.1:1/…"`) || !strings.Contains(out.Error(), "connection refused") {
			t.Errorf("redacted error lost the endpoint or the cause: %v", out)
		}
		var ue *url.Error
		if !errors.As(out, &ue) {
			t.Error("no *url.Error in the chain any more")
		}
	}
	if redact.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	plain := errors.New("plain")
	if redact.Error(plain) != plain {
		t.Error("Error changed an error without a URL")
	}
}
