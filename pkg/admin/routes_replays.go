package admin

import (
	"context"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Replays answers starting, listing and cancelling replays.
type Replays interface {
	StartReplay(ctx context.Context, sink string, req gatewayapi.ReplayRequest) (gatewayapi.ReplayStatus, error)
	Replays() []gatewayapi.ReplayStatus
	Replay(id string) (gatewayapi.ReplayStatus, error)
	CancelReplay(id string) (gatewayapi.ReplayStatus, error)
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
