package admin

import (
	"context"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Health answers /readyz and GET /v1/config.
type Health interface {
	Ready(ctx context.Context) error
	// RunningConfig is the config in force, its secrets redacted.
	RunningConfig() *config.Config
}

// healthRoutes answer what the gateway runs with.
func healthRoutes(h Health) []route {
	return []route{
		{"GET /v1/config", http.StatusOK, func(r *http.Request) (any, error) {
			return h.RunningConfig(), nil
		}},
	}
}
