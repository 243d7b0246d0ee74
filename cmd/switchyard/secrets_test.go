package main_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// A token from the environment is used, never printed: --help shows the
// variable's name as the default, not its value.
func TestAdminTokenFromEnvIsNotShownInHelp(t *testing.T) {
	const envToken = "ENVTOKENVALUE"
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	run := func(args ...string) string {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN="+envToken, "SWITCHYARD_ADMIN="+srv.URL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, args := range [][]string{
		{"status", "--help"}, {"sinks", "--help"}, {"sinks", "pause", "--help"}, {"dlq", "--help"},
		{"attempts", "--help"}, {"replay", "--help"}, {"validate", "--help"},
	} {
		if out := run(args...); strings.Contains(out, envToken) {
			t.Errorf("%v prints the token:\n%s", args, out)
		} else if !strings.Contains(out, "SWITCHYARD_ADMIN_TOKEN") {
			t.Errorf("%v does not say where the token comes from:\n%s", args, out)
		}
	}
	run("status")
	run("status", "--token", "flagtoken")
	mu.Lock()
	defer mu.Unlock()
	// Each status reads /v1/sinks, then /metrics for the ingest counts.
	if len(auth) != 4 || auth[0] != "Bearer "+envToken || auth[1] != "Bearer "+envToken || auth[2] != "Bearer flagtoken" || auth[3] != "Bearer flagtoken" {
		t.Errorf("Authorization headers %q, want the env token twice, then the flag's twice", auth)
	}
}
