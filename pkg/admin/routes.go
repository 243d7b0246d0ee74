package admin

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
	"github.com/switchyard-dev/switchyard/pkg/subject"
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

// gatewayDefaultGrace is how long a rotated-out secret keeps signing when
// the request says nothing (apisinks.DefaultRotationGrace).
const gatewayDefaultGrace = 24 * time.Hour

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

// deadLetterRoute serves a dead-letter endpoint: a filter from the query
// string (a page of defaultLimit for a list), the sink from the path.
func deadLetterRoute(pattern string, defaultLimit int, op func(r *http.Request, sink string, f deadletter.Filter) (any, error)) route {
	return route{pattern: pattern, code: http.StatusOK, serve: func(r *http.Request) (any, error) {
		f, err := filterOf(r, defaultLimit)
		if err != nil {
			return nil, &badInput{err.Error()}
		}
		return op(r, r.PathValue("name"), f)
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

// routesOf is the API behind the token, but for /metrics and the
// profiler: each group holds only its own role.
func routesOf(r Roles) []route {
	var all []route
	for _, group := range [][]route{
		endpointRoutes(r.Endpoints), deadLetterRoutes(r.DeadLetters), sinkRoutes(r.Sinks),
		eventRoutes(r.Events), replayRoutes(r.Replays), healthRoutes(r.Health),
		{openAPIRoute},
	} {
		all = append(all, group...)
	}
	return all
}

// openAPIRoute serves the API's own description.
var openAPIRoute = route{"GET /v1/openapi.yaml", http.StatusOK, func(r *http.Request) (any, error) {
	return rawBody{contentType: "application/yaml", data: OpenAPI()}, nil
}}

// endpointRoutes are the endpoints API: sinks made, changed and deleted at
// run time.
func endpointRoutes(e Endpoints) []route {
	return []route{
		{"GET /v1/sinks", http.StatusOK, func(r *http.Request) (any, error) {
			q := r.URL.Query()
			sq := gatewayapi.SinkQuery{Tenant: q.Get("tenant"), Cursor: q.Get("cursor")}
			if l := q.Get("limit"); l != "" {
				n, err := strconv.Atoi(l)
				if err != nil || n < 1 || n > 1000 {
					return nil, &badInput{"limit must be 1 to 1000"}
				}
				sq.Limit = n
			}
			page, err := e.ListSinks(r.Context(), sq)
			if err != nil {
				return nil, err
			}
			h := http.Header{}
			if page.Next != "" {
				next := url.Values{"cursor": {page.Next}, "limit": {strconv.Itoa(sq.Limit)}}
				if sq.Tenant != "" {
					next.Set("tenant", sq.Tenant)
				}
				h.Set("X-Next-Cursor", page.Next)
				h.Set("Link", "</v1/sinks?"+next.Encode()+`>; rel="next"`)
			}
			return withHeaders{page.Sinks, h}, nil
		}},
		{"POST /v1/sinks", http.StatusCreated, func(r *http.Request) (any, error) {
			body, err := readBody(r)
			if err != nil {
				return nil, err
			}
			return e.CreateSink(r.Context(), body, actor(r))
		}},
		{"GET /v1/sinks/{name}", http.StatusOK, func(r *http.Request) (any, error) {
			return e.GetSink(r.Context(), r.PathValue("name"))
		}},
		{"PATCH /v1/sinks/{name}", http.StatusOK, func(r *http.Request) (any, error) {
			body, err := readBody(r)
			if err != nil {
				return nil, err
			}
			return e.PatchSink(r.Context(), r.PathValue("name"), body, actor(r))
		}},
		{"DELETE /v1/sinks/{name}", http.StatusNoContent, func(r *http.Request) (any, error) {
			return nil, e.DeleteSink(r.Context(), r.PathValue("name"), actor(r))
		}},
		{"GET /v1/sinks/{name}/history", http.StatusOK, func(r *http.Request) (any, error) {
			return e.SinkHistory(r.Context(), r.PathValue("name"))
		}},
		{"POST /v1/sinks/{name}/secrets/rotate", http.StatusOK, func(r *http.Request) (any, error) {
			var req struct {
				Grace string `json:"grace"`
			}
			if err := decodeBody(r, &req, false, `body must be {"grace": "24h"} or empty`); err != nil {
				return nil, err
			}
			grace := gatewayDefaultGrace
			if req.Grace != "" {
				var err error
				if grace, err = time.ParseDuration(req.Grace); err != nil {
					return nil, &badInput{"grace: " + err.Error()}
				}
			}
			return e.RotateSecret(r.Context(), r.PathValue("name"), grace, actor(r))
		}},
		{"POST /v1/sinks/{name}/test", http.StatusOK, func(r *http.Request) (any, error) {
			var req gatewayapi.TestRequest
			if err := decodeBody(r, &req, false, `body must be {"type": "…", "data": {…}} or empty`); err != nil {
				return nil, err
			}
			return e.TestSink(r.Context(), r.PathValue("name"), req)
		}},
	}
}

// deadLetterRoutes list, redrive and purge a sink's dead letters.
func deadLetterRoutes(d DeadLetters) []route {
	return []route{
		deadLetterRoute("GET /v1/sinks/{name}/dead-letters", DefaultPageSize, func(r *http.Request, sink string, f deadletter.Filter) (any, error) {
			return d.DeadLetters(r.Context(), sink, f)
		}),
		deadLetterRoute("POST /v1/sinks/{name}/dead-letters/redrive", 0, func(r *http.Request, sink string, f deadletter.Filter) (any, error) {
			return count("redriven")(d.Redrive(r.Context(), sink, f))
		}),
		deadLetterRoute("DELETE /v1/sinks/{name}/dead-letters", 0, func(r *http.Request, sink string, f deadletter.Filter) (any, error) {
			return count("deleted")(d.PurgeDeadLetters(r.Context(), sink, f))
		}),
	}
}

// sinkRoutes pause and resume a sink.
func sinkRoutes(s Sinks) []route {
	return []route{
		{"POST /v1/sinks/{name}/pause", http.StatusOK, func(r *http.Request) (any, error) {
			var body struct {
				Reason string `json:"reason"`
			}
			if err := decodeBody(r, &body, false, `body must be {"reason": "…"} or empty`); err != nil {
				return nil, err
			}
			if err := s.Pause(r.Context(), r.PathValue("name"), body.Reason); err != nil {
				return nil, err
			}
			return map[string]string{"sink": r.PathValue("name"), "state": "paused"}, nil
		}},
		{"POST /v1/sinks/{name}/resume", http.StatusOK, func(r *http.Request) (any, error) {
			if err := s.Resume(r.Context(), r.PathValue("name")); err != nil {
				return nil, err
			}
			return map[string]string{"sink": r.PathValue("name"), "state": "resumed"}, nil
		}},
	}
}

// eventRoutes read the attempt log.
func eventRoutes(e Events) []route {
	return []route{
		{"GET /v1/attempts", http.StatusOK, func(r *http.Request) (any, error) {
			q, err := attemptQueryOf(r)
			if err != nil {
				return nil, &badInput{err.Error()}
			}
			// A sink or tenant is a name, never a wildcard over all of them.
			if q.Sink != "" && subject.ValidName(q.Sink) != nil {
				return nil, &badInput{"sink: " + subject.ValidName(q.Sink).Error()}
			}
			if q.Tenant != "" && subject.ValidTenant(q.Tenant) != nil {
				return nil, &badInput{"tenant: " + subject.ValidTenant(q.Tenant).Error()}
			}
			return e.Attempts(r.Context(), q)
		}},
		{"GET /v1/events/{id}", http.StatusOK, func(r *http.Request) (any, error) {
			return e.Event(r.Context(), r.PathValue("id"))
		}},
	}
}

// replayRoutes start, list and cancel replays.
func replayRoutes(rp Replays) []route {
	return []route{
		{"POST /v1/sinks/{name}/replay", http.StatusAccepted, func(r *http.Request) (any, error) {
			var req gatewayapi.ReplayRequest
			if err := decodeBody(r, &req, true, `body must be {"since": RFC 3339, "until": RFC 3339, "types": [...]}`); err != nil {
				return nil, err
			}
			return rp.StartReplay(r.Context(), r.PathValue("name"), req)
		}},
		{"GET /v1/replays", http.StatusOK, func(r *http.Request) (any, error) {
			return rp.Replays(), nil
		}},
		{"GET /v1/replays/{id}", http.StatusOK, func(r *http.Request) (any, error) {
			return rp.Replay(r.PathValue("id"))
		}},
		{"DELETE /v1/replays/{id}", http.StatusOK, func(r *http.Request) (any, error) {
			return rp.CancelReplay(r.PathValue("id"))
		}},
	}
}

// healthRoutes answer what the gateway runs with.
func healthRoutes(h Health) []route {
	return []route{
		{"GET /v1/config", http.StatusOK, func(r *http.Request) (any, error) {
			return h.RunningConfig(), nil
		}},
	}
}
