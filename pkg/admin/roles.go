package admin

// Roles are what the API reads and acts on, one interface per route
// group, each implemented by the part of the gateway that owns it. Their
// types and errors live in pkg/gatewayapi. A route group holds only its
// own role.
type Roles struct {
	Health      Health
	Sinks       Sinks
	DeadLetters DeadLetters
	Replays     Replays
	Endpoints   Endpoints
	Events      Events
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
