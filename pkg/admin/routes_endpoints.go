package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Endpoints answers the endpoints API: sinks created, changed and
// deleted at run time, their secrets, test sends and history.
type Endpoints interface {
	ListSinks(ctx context.Context, q gatewayapi.SinkQuery) (gatewayapi.SinkPage, error)
	GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error)
	CreateSink(ctx context.Context, body []byte, actor string) (gatewayapi.SinkView, error)
	PatchSink(ctx context.Context, name string, patch []byte, actor string) (gatewayapi.SinkView, error)
	DeleteSink(ctx context.Context, name, actor string) error
	RotateSecret(ctx context.Context, name string, grace time.Duration, actor string) (gatewayapi.RotateResult, error)
	TestSink(ctx context.Context, name string, req gatewayapi.TestRequest) (gatewayapi.TestResult, error)
	SinkHistory(ctx context.Context, name string) ([]gatewayapi.SinkRevision, error)
}

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

// gatewayDefaultGrace is how long a rotated-out secret keeps signing when
// the request says nothing (apisinks.DefaultRotationGrace).
const gatewayDefaultGrace = 24 * time.Hour
