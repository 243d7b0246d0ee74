package main_test

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// dlq's --tenant reaches the API as ?tenant= on list, redrive and purge,
// and the list shows each record's tenant beside its type.
func TestDLQTenantFlag(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.Method+" "+r.URL.Query().Encode())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.Method {
		case "GET":
			w.Write([]byte(`[{"seq":7,"id":"a1","type":"order.created","tenant":"acme","status":500,"attempts":3,"reason":"x"}]`))
		case "POST":
			w.Write([]byte(`{"redriven":1}`))
		default:
			w.Write([]byte(`{"deleted":1}`))
		}
	}))
	defer srv.Close()
	run := func(args ...string) string {
		out, err := exec.Command(binary, append(args, "--admin", srv.URL)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("dlq", "list", "s", "--type", "order.created", "--tenant", "acme")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "TENANT") || !strings.Contains(lines[1], "acme") || !strings.Contains(lines[1], "order.created") {
		t.Errorf("dlq list:\n%s", out)
	}
	run("dlq", "redrive", "s", "--type", "order.created", "--tenant", "acme")
	run("dlq", "purge", "s", "--tenant", "acme", "--yes")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET limit=100&tenant=acme&type=order.created", "POST tenant=acme&type=order.created", "DELETE tenant=acme"}
	if strings.Join(queries, "\n") != strings.Join(want, "\n") {
		t.Errorf("queries:\n%s\nwant:\n%s", strings.Join(queries, "\n"), strings.Join(want, "\n"))
	}
}
