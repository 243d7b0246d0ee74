package admin

import (
	_ "embed"
	"encoding/json"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/pkg/schema"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

//go:embed openapi.yaml
var openAPIDoc []byte

var (
	openAPIOnce sync.Once
	openAPIOut  []byte
)

// OpenAPI is the admin API's OpenAPI 3.1 document, with the sink schema
// (components.schemas.Sink) generated from the registered sink kinds.
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		openAPIOut = openAPIDoc
		var doc map[string]any
		if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
			return
		}
		// Generated from the same specs the validator uses.
		sinkSchema, defs := schema.Sink(sink.Default)
		// The schema's own references point into components.
		b, _ := json.Marshal(map[string]any{"sink": sinkSchema, "defs": defs})
		b = []byte(strings.ReplaceAll(string(b), "#/$defs/", "#/components/schemas/"))
		var moved struct {
			Sink map[string]any `json:"sink"`
			Defs map[string]any `json:"defs"`
		}
		if json.Unmarshal(b, &moved) != nil {
			return
		}
		schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
		schemas["Sink"] = moved.Sink
		for k, v := range moved.Defs {
			schemas[k] = v
		}
		if out, err := yaml.Marshal(doc); err == nil {
			openAPIOut = out
		}
	})
	return openAPIOut
}
