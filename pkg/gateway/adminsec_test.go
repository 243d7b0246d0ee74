package gateway_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// adminCall sends one request with the given headers ("Host" sets the
// Host header) and returns the status and body.
func adminCall(t *testing.T, g *gateway.Gateway, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+g.AdminAddr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A web page in the operator's browser can send a POST cross-site without
// a preflight (a text/plain or form body, or none): every state change
// that carries a browser's cross-site marks is refused, whatever the token.
func TestAdminRefusesCrossSiteStateChanges(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Admin: `{listen: "127.0.0.1:0", token: "s3cret"}`, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	self := "http://" + g.AdminAddr()
	auth := "Bearer s3cret"
	tests := []struct {
		name         string
		method, path string
		body         string
		hdr          map[string]string
		want         int
	}{
		{"foreign Origin", "POST", "/v1/sinks/s/pause", "", map[string]string{"Origin": "https://evil.example"}, 403},
		{"null Origin", "POST", "/v1/sinks/s/pause", "", map[string]string{"Origin": "null"}, 403},
		{"Origin on another port", "POST", "/v1/sinks/s/pause", "", map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{"Sec-Fetch-Site cross-site", "POST", "/v1/sinks/s/pause", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"Sec-Fetch-Site same-site", "POST", "/v1/sinks/s/dead-letters/redrive", "", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"text/plain JSON body", "POST", "/v1/sinks/s/pause", `{"reason":"x"}`, map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, 415},
		{"form body", "POST", "/v1/sinks/s/replay", `since=2020-01-01T00:00:00Z`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"multipart body", "POST", "/v1/sinks/s/pause", "--x--\r\n", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415},
		{"foreign Origin on DELETE", "DELETE", "/v1/sinks/s/dead-letters", "", map[string]string{"Origin": "https://evil.example"}, 403},
		{"foreign Origin on a read", "GET", "/v1/sinks", "", map[string]string{"Origin": "https://evil.example"}, 200},
		{"same Origin, JSON", "POST", "/v1/sinks/s/resume", "", map[string]string{"Origin": self, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}, 200},
		{"no browser marks, no body", "POST", "/v1/sinks/s/resume", "", nil, 200},
		{"Sec-Fetch-Site none (typed by the user)", "POST", "/v1/sinks/s/resume", "", map[string]string{"Sec-Fetch-Site": "none"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": auth}
			for k, v := range tt.hdr {
				hdr[k] = v
			}
			code, body := adminCall(t, g, tt.method, tt.path, tt.body, hdr)
			if code != tt.want {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, code, body, tt.want)
			}
			if code >= 400 && !strings.Contains(body, `"error"`) {
				t.Errorf("refusal without a JSON error: %s", body)
			}
		})
	}
	if st := sinkStateOf(t, g); st != "running" {
		t.Errorf("sink state %q after refused pauses, want running", st)
	}
}

func sinkStateOf(t *testing.T, g *gateway.Gateway) string {
	t.Helper()
	var sinks []struct{ Name, State string }
	adminDo(t, g, "GET", "/v1/sinks", &sinks)
	for _, s := range sinks {
		if s.Name == "s" {
			return s.State
		}
	}
	return ""
}

// Without a token the API answers only requests addressed to a loopback
// name or address: a DNS-rebinding page (Host: evil.example) gets nothing.
func TestAdminWithoutTokenAnswersLoopbackHostsOnly(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Admin: `{listen: "127.0.0.1:0"}`, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	_, port, _ := net.SplitHostPort(g.AdminAddr())
	tests := []struct {
		host string
		want int
	}{
		{"evil.example:" + port, 403},
		{"evil.example", 403},
		{"127.0.0.1.nip.io:" + port, 403},
		{"10.0.0.1:" + port, 403},
		{"127.0.0.1:" + port, 200},
		{"127.1.2.3:" + port, 200},
		{"localhost:" + port, 200},
		{"LOCALHOST:" + port, 200},
		{"[::1]:" + port, 200},
		{"localhost", 200},
	}
	for _, path := range []string{"/v1/sinks", "/v1/sinks/s/dead-letters", "/v1/config"} {
		for _, tt := range tests {
			code, body := adminCall(t, g, "GET", path, "", map[string]string{"Host": tt.host})
			if code != tt.want {
				t.Errorf("GET %s with Host %s: %d %s, want %d", path, tt.host, code, body, tt.want)
			}
		}
	}

	open, _ := gatewaytest.Run(t, gatewaytest.Options{Admin: `{listen: "127.0.0.1:0", insecure_no_auth: true}`, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	if code, body := adminCall(t, open, "GET", "/v1/sinks", "", map[string]string{"Host": "switchyard.internal:8080"}); code != 200 {
		t.Errorf("insecure_no_auth: %d %s, want 200 for any Host", code, body)
	}
	withToken, _ := gatewaytest.Run(t, gatewaytest.Options{Admin: `{listen: "127.0.0.1:0", token: "s3cret"}`, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	if code, body := adminCall(t, withToken, "GET", "/v1/sinks", "", map[string]string{"Host": "switchyard.internal:8080", "Authorization": "Bearer s3cret"}); code != 200 {
		t.Errorf("with a token: %d %s, want 200 for any Host", code, body)
	}
}
