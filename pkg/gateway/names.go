package gateway

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// unknownSink is the answer for a name no sink has (404).
func unknownSink(name string) error { return fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, name) }

// checkName refuses, as an unknown sink, a name no sink can have (a
// wildcard, a dot, white space: see subject.ValidName) before it reaches a
// subject, a consumer or a key: GET /v1/sinks/%3E/history once read every
// sink's history.
func checkName(name string) error {
	if subject.ValidName(name) != nil {
		return unknownSink(name)
	}
	return nil
}
