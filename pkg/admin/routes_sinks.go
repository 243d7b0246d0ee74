package admin

import (
	"context"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Sinks answers the live state of every sink (the console's list; the
// API lists sinks through Endpoints) and pausing and resuming one.
type Sinks interface {
	Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error)
	Pause(ctx context.Context, sink, reason string) error
	Resume(ctx context.Context, sink string) error
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
