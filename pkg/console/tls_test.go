package console_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
)

// With admin.tls the admin listener serves HTTPS and the session cookie
// is named with the __Host- prefix (Secure, Path=/, no Domain): a browser
// then takes it only from this origin over HTTPS, so a service on another
// port of the host cannot set or shadow it.
func TestConsoleOverHTTPSHostCookie(t *testing.T) {
	// httptest's certificate (127.0.0.1, example.com) and key, as files.
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	ts.Close()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := x509.MarshalPKCS8PrivateKey(ts.TLS.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	g, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: fmt.Sprintf(`
nats:
  embedded: {listen: "127.0.0.1:0", store_dir: %q}
admin: {listen: "127.0.0.1:0", token: %q, tls: {cert_file: %q, key_file: %q}}
shutdown_grace: 1s
`, t.TempDir(), token, certFile, keyFile), StopWithin: 15 * time.Second})

	jar, _ := cookiejar.New(nil)
	hc := ts.Client() // trusts the certificate
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &client{t: t, base: "https://" + g.AdminAddr(), c: hc}
	if resp, _ := (&client{t: t, base: "http://" + g.AdminAddr(), c: &http.Client{}}).tryGet("/healthz"); resp != nil && resp.StatusCode == http.StatusOK {
		t.Errorf("plain HTTP answered on a TLS listener: %v", resp)
	}
	resp, body := c.do("POST", "/v1/session", `{"token":"`+token+`"}`, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("login: %s %s", resp.Status, body)
	}
	sc := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Host-switchyard_session=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "Path=/") ||
		strings.Contains(sc, "Domain") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
		t.Fatalf("cookie over HTTPS: %s", sc)
	}
	if resp, page := c.do("GET", "/", "", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "csrf-token") {
		t.Fatalf("a page with the __Host- cookie: %s", resp.Status)
	}
}

// tryGet is a GET that reports a transport error as a nil response.
func (c *client) tryGet(path string) (*http.Response, error) {
	resp, err := c.c.Get(c.base + path)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}
