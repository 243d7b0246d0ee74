package gatewayapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// SinkView is a sink as the endpoints API shows it: its definition
// (secrets as sha256: fingerprints) and its live state. On the wire it is
// one JSON object: the definition's fields under the config's names (the
// kind's block under its key), overlaid by those of SinkStatus (name,
// events, tenant and delivery are both's), then
// "capabilities", the API sink's "created_at" and "updated_at", and the
// "secret" a create generated.
type SinkView struct {
	SinkStatus
	// Definition is the sink as defined, redacted (config.RedactedSink):
	// the common fields typed, the kind's own block in Dest. Nil when a
	// stored record does not parse: then only the status shows.
	Definition *config.Sink
	// Capabilities are what the sink's kind can do beyond delivering
	// (sink.CapRotateSecret, sink.CapEditTarget).
	Capabilities []string
	// CreatedAt and UpdatedAt are an API sink's; nil for a file sink.
	CreatedAt, UpdatedAt *time.Time
	// Secret is the signing secret a create generated, shown this once.
	Secret string
}

// statusOnly are the fields of the view that are not the definition's:
// SinkStatus's, but for those both carry, and the view's own.
var statusOnly = func() map[string]bool {
	out := map[string]bool{"capabilities": true, "created_at": true, "updated_at": true, "secret": true}
	t := reflect.TypeOf(SinkStatus{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	for _, shared := range []string{"name", "events", "tenant", "delivery"} {
		delete(out, shared)
	}
	return out
}()

// MarshalJSON writes the view as one object: the definition's fields,
// then the status's over them, then the view's own.
func (v SinkView) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	if v.Definition != nil {
		for k, x := range v.Definition.Map() {
			out[k] = x
		}
	} else {
		out["name"] = v.Name
	}
	if v.CreatedAt != nil {
		out["created_at"] = v.CreatedAt
	}
	if v.UpdatedAt != nil {
		out["updated_at"] = v.UpdatedAt
	}
	live, err := json.Marshal(v.SinkStatus)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(live, &fields); err != nil {
		return nil, err
	}
	for k, x := range fields {
		out[k] = x
	}
	out["capabilities"] = append([]string{}, v.Capabilities...)
	if v.Secret != "" {
		out["secret"] = v.Secret
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes: the status's fields and
// the view's own; every other field (and name, events, tenant, which both
// carry) is the definition's.
func (v *SinkView) UnmarshalJSON(data []byte) error {
	var own struct {
		Capabilities []string   `json:"capabilities"`
		CreatedAt    *time.Time `json:"created_at"`
		UpdatedAt    *time.Time `json:"updated_at"`
		Secret       string     `json:"secret"`
	}
	var st SinkStatus
	var fields map[string]json.RawMessage
	// One object, read three ways: the view's own fields, the status's,
	// and every field by name (the definition's are the rest).
	for _, as := range []any{&own, &st, &fields} {
		if err := json.Unmarshal(data, as); err != nil {
			return err
		}
	}
	definition := false
	for k := range fields {
		switch {
		case statusOnly[k]:
			delete(fields, k)
		case k != "name" && k != "events" && k != "tenant" && k != "delivery":
			definition = true
		}
	}
	*v = SinkView{SinkStatus: st, Capabilities: own.Capabilities, CreatedAt: own.CreatedAt, UpdatedAt: own.UpdatedAt, Secret: own.Secret}
	if definition {
		def, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		v.Definition = new(config.Sink)
		if err := v.Definition.UnmarshalJSON(def); err != nil {
			return err
		}
	}
	return nil
}
