package admin

import (
	"context"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

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

// Health answers /readyz and GET /v1/config.
type Health interface {
	Ready(ctx context.Context) error
	// RunningConfig is the config in force, its secrets redacted.
	RunningConfig() *config.Config
}

// Sinks answers the live state of every sink (the console's list; the
// API lists sinks through Endpoints) and pausing and resuming one.
type Sinks interface {
	Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error)
	Pause(ctx context.Context, sink, reason string) error
	Resume(ctx context.Context, sink string) error
}

// DeadLetters answers a sink's dead letters: listing, redriving and
// purging them.
type DeadLetters interface {
	DeadLetters(ctx context.Context, sink string, f deadletter.Filter) ([]deadletter.Record, error)
	Redrive(ctx context.Context, sink string, f deadletter.Filter) (int, error)
	PurgeDeadLetters(ctx context.Context, sink string, f deadletter.Filter) (int, error)
}

// Replays answers starting, listing and cancelling replays.
type Replays interface {
	StartReplay(ctx context.Context, sink string, req gatewayapi.ReplayRequest) (gatewayapi.ReplayStatus, error)
	Replays() []gatewayapi.ReplayStatus
	Replay(id string) (gatewayapi.ReplayStatus, error)
	CancelReplay(id string) (gatewayapi.ReplayStatus, error)
}

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

// Events answers the attempt log: attempts by query, and one event with
// every attempt to deliver it.
type Events interface {
	Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error)
	Event(ctx context.Context, id string) (*gatewayapi.EventView, error)
}
