package gateway

import (
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/console"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/eventlog"
	"github.com/switchyard-dev/switchyard/pkg/session"
)

// Admin is what the admin API reads and acts on, each role answered by
// the part that owns it (what Run serves); in-process callers such as the
// demo query the gateway through it too.
func (g *Gateway) Admin() admin.Roles {
	return admin.Roles{
		Health:      g,
		Sinks:       g,
		DeadLetters: deadletter.Desk{Store: g.dlq, Known: g.redriveRoute},
		Replays:     g.replays,
		Endpoints:   g.endpoints,
		Events:      eventlog.Events{Log: g.attempts, JS: g.bus.JS, Incarnation: g.incarnationOf},
	}
}

// RunningConfig is the config in force, redacted.
func (g *Gateway) RunningConfig() *config.Config {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return config.Redacted(g.cfg)
}

// AdminHandler is the admin listener's handler: the API with o, and the
// web console at "/" behind the same guards, both sharing o.Sessions (nil:
// in this process only, for o.Token).
func (g *Gateway) AdminHandler(o admin.Options) http.Handler {
	if o.Sessions == nil {
		o.Sessions = session.New(session.Options{Token: o.Token, Logger: o.Logger})
	}
	roles := g.Admin()
	o.Pages = console.Handler(console.Reader{
		Sinks: roles.Sinks, Endpoints: roles.Endpoints, DeadLetters: roles.DeadLetters,
		Events: roles.Events, Replays: roles.Replays,
	}, o.Sessions)
	return admin.HandlerWith(roles, o, g.metrics.Registry)
}

// incarnationOf is the incarnation of the sink called name as this
// replica runs or stores it, "" when there is none (deleted).
func (g *Gateway) incarnationOf(name string) string {
	g.mu.RLock()
	rs := g.byName[name]
	g.mu.RUnlock()
	if rs != nil {
		return rs.cfg.Incarnation
	}
	return g.endpoints.StoredIncarnation(name)
}

// redriveRoute is where the running sink called name takes its redriven
// dead letters: a shared sink's go to the deliveries stream as records of
// its incarnation, which its dispatcher is offered like any other.
func (g *Gateway) redriveRoute(name string) (deadletter.Route, error) {
	rs, err := g.sink(name)
	if err != nil {
		return deadletter.Route{}, err
	}
	return deadletter.Route{Shared: rs.cfg.Shared(), Incarnation: rs.cfg.Incarnation}, nil
}
