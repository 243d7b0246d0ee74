package admin

import (
	"context"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/deadletter"
)

// DeadLetters answers a sink's dead letters: listing, redriving and
// purging them.
type DeadLetters interface {
	DeadLetters(ctx context.Context, sink string, f deadletter.Filter) ([]deadletter.Record, error)
	Redrive(ctx context.Context, sink string, f deadletter.Filter) (int, error)
	PurgeDeadLetters(ctx context.Context, sink string, f deadletter.Filter) (int, error)
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
