package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go writes it ("5s", "2h30m").
type Duration struct{ D time.Duration }

// UnmarshalYAML reports a bad duration as a yaml.TypeError so the decoder
// keeps going and every problem in the file is reported at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	parsed, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q (use Go syntax such as 500ms, 5s, 2h30m)", n.Line, n.Value)}}
	}
	if parsed < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: duration %q is negative", n.Line, n.Value)}}
	}
	d.D = parsed
	return nil
}

// MarshalYAML writes the duration back in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return d.D.String(), nil }

func (d Duration) String() string { return d.D.String() }
