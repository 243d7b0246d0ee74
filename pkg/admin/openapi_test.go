package admin

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// The OpenAPI document names every route the server registers, and
// nothing else.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	_, patterns := build(Roles{}, Options{Token: "t"}, prometheus.NewRegistry())
	served := map[string]bool{}
	for _, p := range patterns {
		// The profiler's index serves every named profile below it.
		p = strings.Replace(p, "GET /debug/pprof/", "GET /debug/pprof/{profile}", 1)
		p = strings.Replace(p, "{profile}cmdline", "cmdline", 1)
		p = strings.Replace(p, "{profile}profile", "profile", 1)
		p = strings.Replace(p, "{profile}symbol", "symbol", 1)
		p = strings.Replace(p, "{profile}trace", "trace", 1)
		served[p] = true
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	var missing, extra []string
	for p := range served {
		if !documented[p] {
			missing = append(missing, p)
		}
	}
	for p := range documented {
		if !served[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("openapi.yaml is out of step with the server:\nserved, not documented: %v\ndocumented, not served: %v", missing, extra)
	}
	if len(served) < 25 {
		t.Fatalf("only %d routes found: %v", len(served), patterns)
	}
}

// The document is served behind the token, as YAML.
func TestOpenAPIIsServed(t *testing.T) {
	srv := httptest.NewServer(HandlerWith(Roles{}, Options{Token: "t"}, prometheus.NewRegistry()))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/openapi.yaml", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
}

// Every field of a sink's status (gatewayapi.SinkStatus) is in the
// document's SinkView, as a property of its own or of the sink's
// definition.
func TestOpenAPISinkViewHasEveryStatusField(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
				AllOf      []struct {
					Properties map[string]any `yaml:"properties"`
				} `yaml:"allOf"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for k := range doc.Components.Schemas["Sink"].Properties {
		documented[k] = true
	}
	for _, part := range doc.Components.Schemas["SinkView"].AllOf {
		for k := range part.Properties {
			documented[k] = true
		}
	}
	st := reflect.TypeOf(gatewayapi.SinkStatus{})
	for i := 0; i < st.NumField(); i++ {
		name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
		if !documented[name] {
			t.Errorf("SinkView in openapi.yaml lacks %q", name)
		}
	}
	if !documented["delivery"] {
		t.Error("SinkView in openapi.yaml lacks delivery")
	}
}
