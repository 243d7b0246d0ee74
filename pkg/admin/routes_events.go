package admin

import (
	"context"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Events answers the attempt log: attempts by query, and one event with
// every attempt to deliver it.
type Events interface {
	Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error)
	Event(ctx context.Context, id string) (*gatewayapi.EventView, error)
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
