// Package all registers every sink driver Switchyard ships; binaries
// import it for its side effects.
package all

import (
	_ "github.com/switchyard-dev/switchyard/pkg/sink/eventbridge" // eventbridge sinks
	_ "github.com/switchyard-dev/switchyard/pkg/sink/gocloud"     // gocloud sinks
	_ "github.com/switchyard-dev/switchyard/pkg/sink/nats"        // nats sinks
	_ "github.com/switchyard-dev/switchyard/pkg/sink/pubsub"      // pubsub sinks
	_ "github.com/switchyard-dev/switchyard/pkg/sink/webhook"     // webhook sinks
)
