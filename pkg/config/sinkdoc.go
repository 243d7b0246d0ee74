package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
)

// FieldError is one problem of a sink judged on its own, as the API
// answers it: the field's path inside the sink (webhook.url) and what is
// wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// FieldErrors is every problem of one sink; ParseSink returns it.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		if e.Field == "" {
			parts[i] = e.Message
		} else {
			parts[i] = e.Field + ": " + e.Message
		}
	}
	return strings.Join(parts, "; ")
}

// ParseSink reads one sink written as JSON or YAML (the API's form) and
// judges it exactly as the config file's next sink would be judged: the
// same strict decoding, defaults and validator, against cfg (its streams,
// its limits and the names of its sinks). Field paths are relative to the
// sink.
func (l Loader) ParseSink(data []byte, cfg *Config) (Sink, error) {
	kinds := l.Kinds
	if kinds == nil {
		kinds = DefaultKinds
	}
	// Depth first: the YAML parser's time and memory grow steeply with
	// nesting, and stored records are parsed again on every history read,
	// watch and start.
	if err := jsonlimit.CheckDepth(data, jsonlimit.MaxDepth); err != nil {
		return Sink{}, FieldErrors{{Message: err.Error()}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return Sink{}, FieldErrors{{Message: "not a JSON object: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if root.Kind == 0 || root.Content[0].Kind != yaml.MappingNode {
		return Sink{}, FieldErrors{{Message: "a sink is a JSON object"}}
	}
	// JSON arrives on one line; written out in block style, every field
	// gets a line of its own, so a decoding error names its field.
	blockStyle(root.Content[0])
	block, err := yaml.Marshal(root.Content[0])
	if err != nil {
		return Sink{}, FieldErrors{{Message: err.Error()}}
	}
	if err := yaml.Unmarshal(block, &root); err != nil {
		return Sink{}, FieldErrors{{Message: err.Error()}}
	}
	doc := root.Content[0]

	i := len(cfg.Sinks)
	path := fmt.Sprintf("sinks[%d]", i)
	p := &parser{file: "sink", lines: map[string]int{}, kinds: kinds, dests: map[string][]destBlock{}, api: path}
	p.lines[""] = doc.Line
	p.walk(doc, sinkType, path)
	decoded := len(p.problems)
	var s Sink
	if err := doc.Decode(&s); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return Sink{}, FieldErrors{{Message: err.Error()}}
		}
		for _, msg := range te.Errors {
			p.problems = append(p.problems, p.fromYAMLMessage(msg))
		}
	}
	p.decodeDest(i, &s)
	// Every decoding problem is this sink's, even one no field could be
	// found for: dropped, a value of the wrong type would be stored.
	for k := decoded; k < len(p.problems); k++ {
		if f := p.problems[k].Field; f != path && !strings.HasPrefix(f, path+".") && !strings.HasPrefix(f, path+"[") {
			p.problems[k].Field = path
		}
	}
	s.applyDefaults()
	whole := *cfg
	whole.Sinks = append(append(make([]Sink, 0, i+1), cfg.Sinks...), s)
	whole.validate(p)

	var out FieldErrors
	for _, pr := range p.problems {
		field, ok := strings.CutPrefix(pr.Field, path)
		if !ok {
			continue // a problem of the config around it, judged when it loaded
		}
		out = append(out, FieldError{Field: strings.TrimPrefix(field, "."), Message: pr.Msg})
	}
	if len(out) > 0 {
		return Sink{}, out
	}
	s.Dest.Node = nil
	s.Confined = !cfg.API.Allows(AllowPrivateNetworks)
	return s, nil
}

// blockStyle clears flow style (JSON's) from a tree so that it marshals
// one field per line.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
