package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const secret = testutil.WebhookSecret

// adminDo calls the admin API with its bearer token and decodes JSON.
func adminDo(t *testing.T, g *gateway.Gateway, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+g.AdminAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// redriveOne redrives sink's dead letters through the admin API and
// fails the test unless exactly one was sent back.
func redriveOne(t *testing.T, g *gateway.Gateway, sink string) {
	t.Helper()
	var res map[string]int
	if code := adminDo(t, g, "POST", "/v1/sinks/"+sink+"/dead-letters/redrive", &res); code != 200 || res["redriven"] != 1 {
		t.Fatalf("redrive: %d %v", code, res)
	}
}
