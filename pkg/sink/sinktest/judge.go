package sinktest

import (
	"errors"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// RequireAPIFieldRefused fails t unless ParseSink, judging doc as the body
// of an API request, refuses it with exactly one problem, on field.
func RequireAPIFieldRefused(t *testing.T, doc, field string) {
	t.Helper()
	_, err := config.Loader{}.ParseSink([]byte(doc), config.Defaults())
	var fe config.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Field != field {
		t.Errorf("%s: API sink judged %v, want a field error on %s", doc, err, field)
	}
}
