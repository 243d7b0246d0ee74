package gatewayapi

import (
	"fmt"

	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// UnknownSink is the answer for a name no sink has (404).
func UnknownSink(name string) error { return fmt.Errorf("%w %q", ErrUnknownSink, name) }

// CheckName refuses, as an unknown sink, a name no sink can have (a
// wildcard, a dot, white space: see subject.ValidName) before it reaches a
// subject, a consumer or a key: GET /v1/sinks/%3E/history once read every
// sink's history.
func CheckName(name string) error {
	if subject.ValidName(name) != nil {
		return UnknownSink(name)
	}
	return nil
}

// Conflictf is an ErrConflict (409) saying why.
func Conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
}
