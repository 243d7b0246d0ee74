// Package jsonlimit reads the JSON bodies of the admin and ingest APIs
// within bounds, in one place: a body's size, its nesting depth (checked
// by a byte scan before any decoding, whose cost and garbage grow with
// depth) and its types (a type error is an error, never dropped). It
// uses the standard library only.
package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxDepth is how deep the arrays and objects of a request body may nest.
// Sink definitions, patches and the small request bodies of the admin API
// need a handful of levels; 32 leaves room and keeps every later parse
// (history reads, watches, restarts) cheap.
const MaxDepth = 32

// ErrTooDeep is the error of a body nested deeper than its bound.
var ErrTooDeep = errors.New("JSON nested too deep")

// ErrTooLarge is the error of a body larger than its bound.
var ErrTooLarge = errors.New("body too large")

// CheckDepth reports ErrTooDeep when the arrays and objects of data nest
// deeper than max, counting [ and { outside strings. It does not judge
// whether data is JSON (the decoder does), allocates nothing, and reads
// data once.
func CheckDepth(data []byte, max int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > max {
				return fmt.Errorf("%w: more than %d levels of arrays and objects (at byte %d)", ErrTooDeep, max, i)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// Read reads r to its end, at most max bytes; a longer body is
// ErrTooLarge, found as soon as it passes max.
func Read(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}

// Unmarshal decodes data, one JSON value and nothing after it, into v
// after checking its depth against MaxDepth.
func Unmarshal(data []byte, v any) error {
	dec, err := NewDecoder(data, MaxDepth)
	if err != nil {
		return err
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	return End(dec)
}

// NewDecoder is a decoder over data, which nests at most maxDepth deep,
// for callers that stream a value (an array element by element) or set
// decoder options.
func NewDecoder(data []byte, maxDepth int) (*json.Decoder, error) {
	if err := CheckDepth(data, maxDepth); err != nil {
		return nil, err
	}
	return json.NewDecoder(bytes.NewReader(data)), nil
}

// ErrTrailing is the error of a body with data after its JSON value.
var ErrTrailing = errors.New("data after the end of the JSON value")

// End reports ErrTrailing when dec has more than white space left.
func End(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}
