package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// admin.tls names a certificate and its key, both or neither, and they
// must load as a pair; the listener then serves HTTPS (and the console's
// cookie takes the __Host- prefix).
func TestAdminTLSValidated(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, tls, want string
	}{
		{"cert without key", `{cert_file: ` + junk + `}`, "admin.tls: cert_file and key_file go together"},
		{"missing file", `{cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}`, "admin.tls.cert_file"},
		{"not a pair", `{cert_file: ` + junk + `, key_file: ` + junk + `}`, "admin.tls: not a certificate and key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte("admin: {listen: \"127.0.0.1:0\", tls: "+tt.tls+"}\n"), os.LookupEnv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	c, err := Parse("t.yaml", []byte("admin: {listen: \"127.0.0.1:0\"}\n"), os.LookupEnv)
	if err != nil || c.Admin.TLS.Enabled() {
		t.Fatalf("without admin.tls: %v, TLS %+v", err, c.Admin.TLS)
	}
}
