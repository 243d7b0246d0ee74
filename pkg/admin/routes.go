package admin

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
)

// route is one API endpoint behind the token: serve reads the request,
// calls the route group's role and returns what to answer with code. A
// *badInput error answers 400 with its message, the others as writeError
// says.
type route struct {
	pattern string
	code    int
	serve   func(r *http.Request) (any, error)
}

// badInput is a request the API cannot read (a query parameter or a body);
// its message is the whole answer.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func (rt route) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := rt.serve(r)
		var bad *badInput
		switch {
		case errors.As(err, &bad):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": bad.msg})
		case err != nil:
			writeError(w, err)
		case rt.code == http.StatusNoContent:
			w.WriteHeader(rt.code)
		default:
			if raw, ok := v.(rawBody); ok {
				w.Header().Set("Content-Type", raw.contentType)
				w.WriteHeader(rt.code)
				_, _ = w.Write(raw.data)
				return
			}
			if wh, ok := v.(withHeaders); ok {
				for k, vs := range wh.header {
					w.Header()[k] = vs
				}
				v = wh.body
			}
			writeJSON(w, rt.code, v)
		}
	}
}

// withHeaders is an answer with headers of its own (a page's next link).
type withHeaders struct {
	body   any
	header http.Header
}

// rawBody is an answer that is not JSON.
type rawBody struct {
	contentType string
	data        []byte
}

// maxSinkBody bounds a sink definition or a patch.
const maxSinkBody = 1 << 20

// readBody reads a JSON request body, or nothing when there is none.
func readBody(r *http.Request) ([]byte, error) {
	b, err := jsonlimit.Read(r.Body, maxSinkBody)
	switch {
	case errors.Is(err, jsonlimit.ErrTooLarge):
		return nil, &badInput{"body larger than 1 MiB"}
	case err != nil:
		return nil, &badInput{"reading the body: " + err.Error()}
	}
	return b, nil
}

// decodeBody reads a small JSON request body into v through jsonlimit
// (its size, depth and types bounded and checked); an empty body leaves v
// as it is unless required. usage is the answer to a body it cannot read.
func decodeBody(r *http.Request, v any, required bool, usage string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 && !required {
		return nil
	}
	if err := jsonlimit.Unmarshal(body, v); err != nil {
		return &badInput{usage + ": " + err.Error()}
	}
	return nil
}

// actor names who made a change, for a sink's history: the
// X-Switchyard-Actor header a client may set (the console and the CLI
// say who runs them), and the address it came from.
func actor(r *http.Request) string {
	a := strings.TrimSpace(r.Header.Get("X-Switchyard-Actor"))
	if len(a) > 128 {
		a = a[:128]
	}
	if a == "" {
		a = "admin API"
	}
	return a + " from " + r.RemoteAddr
}

// openAPIRoute serves the API's own description.
var openAPIRoute = route{"GET /v1/openapi.yaml", http.StatusOK, func(r *http.Request) (any, error) {
	return rawBody{contentType: "application/yaml", data: OpenAPI()}, nil
}}
