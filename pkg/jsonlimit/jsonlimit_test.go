package jsonlimit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
)

func TestCheckDepth(t *testing.T) {
	for _, c := range []struct {
		doc  string
		max  int
		deep bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`[[[]]] [[[]]]`, 3, false},            // depth, not count
		{`{"s":"[[[[{{{{"}`, 1, false},         // brackets in strings do not count
		{`{"s":"\"[[[[", "t":"\\"}`, 1, false}, // nor after escaped quotes
		{`{"s":"\\", "a":[[1]]}`, 2, true},     // an escaped backslash ends no string
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), jsonlimit.MaxDepth, true},
		{strings.Repeat("[", 32) + strings.Repeat("]", 32), jsonlimit.MaxDepth, false},
	} {
		err := jsonlimit.CheckDepth([]byte(c.doc), c.max)
		if errors.Is(err, jsonlimit.ErrTooDeep) != c.deep {
			t.Errorf("%s (max %d): %v, want too deep %v", c.doc, c.max, err, c.deep)
		}
	}
}

func TestUnmarshalKeepsTypeErrorsAndRefusesTrailingData(t *testing.T) {
	var v struct {
		Description string `json:"description"`
	}
	if err := jsonlimit.Unmarshal([]byte(`{"description":{"a":1}}`), &v); err == nil {
		t.Error("type error dropped")
	}
	if err := jsonlimit.Unmarshal([]byte(`{"description":"x"} {}`), &v); !errors.Is(err, jsonlimit.ErrTrailing) {
		t.Errorf("trailing data: %v", err)
	}
	if err := jsonlimit.Unmarshal([]byte(`{"description":"x"}`), &v); err != nil || v.Description != "x" {
		t.Errorf("%v %+v", err, v)
	}
}
