package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// route is one API endpoint behind the token: serve reads the request,
// calls the backend and returns what to answer with code. A *badInput
// error answers 400 with its message, the others as writeError says.
type route struct {
	pattern string
	code    int
	serve   func(b Backend, r *http.Request) (any, error)
}

// badInput is a request the API cannot read (a query parameter or a body);
// its message is the whole answer.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func (rt route) handler(b Backend) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := rt.serve(b, r)
		var bad *badInput
		switch {
		case errors.As(err, &bad):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": bad.msg})
		case err != nil:
			writeError(w, err)
		default:
			writeJSON(w, rt.code, v)
		}
	}
}

// deadLetterRoute serves a dead-letter endpoint: a filter from the query
// string (a page of defaultLimit for a list), the sink from the path.
func deadLetterRoute(pattern string, defaultLimit int, op func(b Backend, r *http.Request, sink string, f deadletter.Filter) (any, error)) route {
	return route{pattern: pattern, code: http.StatusOK, serve: func(b Backend, r *http.Request) (any, error) {
		f, err := filterOf(r, defaultLimit)
		if err != nil {
			return nil, &badInput{err.Error()}
		}
		return op(b, r, r.PathValue("name"), f)
	}}
}

// count answers {key: n} for the operations that return how many records
// they touched.
func count(key string) func(n int, err error) (any, error) {
	return func(n int, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return map[string]int{key: n}, nil
	}
}

// routes is the API behind the token, but for /metrics and the profiler.
var routes = []route{
	{"GET /v1/sinks", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.Sinks(r.Context())
	}},
	deadLetterRoute("GET /v1/sinks/{name}/dead-letters", DefaultPageSize, func(b Backend, r *http.Request, sink string, f deadletter.Filter) (any, error) {
		return b.DeadLetters(r.Context(), sink, f)
	}),
	deadLetterRoute("POST /v1/sinks/{name}/dead-letters/redrive", 0, func(b Backend, r *http.Request, sink string, f deadletter.Filter) (any, error) {
		return count("redriven")(b.Redrive(r.Context(), sink, f))
	}),
	deadLetterRoute("DELETE /v1/sinks/{name}/dead-letters", 0, func(b Backend, r *http.Request, sink string, f deadletter.Filter) (any, error) {
		return count("deleted")(b.PurgeDeadLetters(r.Context(), sink, f))
	}),
	{"POST /v1/sinks/{name}/pause", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		var body struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
				return nil, &badInput{"body must be {\"reason\": \"…\"} or empty"}
			}
		}
		if err := b.Pause(r.Context(), r.PathValue("name"), body.Reason); err != nil {
			return nil, err
		}
		return map[string]string{"sink": r.PathValue("name"), "state": "paused"}, nil
	}},
	{"POST /v1/sinks/{name}/resume", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		if err := b.Resume(r.Context(), r.PathValue("name")); err != nil {
			return nil, err
		}
		return map[string]string{"sink": r.PathValue("name"), "state": "resumed"}, nil
	}},
	{"GET /v1/attempts", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		q, err := attemptQueryOf(r)
		if err != nil {
			return nil, &badInput{err.Error()}
		}
		return b.Attempts(r.Context(), q)
	}},
	{"GET /v1/events/{id}", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.Event(r.Context(), r.PathValue("id"))
	}},
	{"POST /v1/sinks/{name}/replay", http.StatusAccepted, func(b Backend, r *http.Request) (any, error) {
		var req gatewayapi.ReplayRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			return nil, &badInput{`body must be {"since": RFC 3339, "until": RFC 3339, "types": [...]}`}
		}
		return b.StartReplay(r.Context(), r.PathValue("name"), req)
	}},
	{"GET /v1/config", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.RunningConfig(), nil
	}},
	{"GET /v1/replays", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.Replays(), nil
	}},
	{"GET /v1/replays/{id}", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.Replay(r.PathValue("id"))
	}},
	{"DELETE /v1/replays/{id}", http.StatusOK, func(b Backend, r *http.Request) (any, error) {
		return b.CancelReplay(r.PathValue("id"))
	}},
}
