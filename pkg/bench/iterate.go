package bench

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// bareHeartbeat is the bare loop's pull heartbeat: how soon a pull that
// went unanswered is noticed (two of them) and asked again.
const bareHeartbeat = 2 * time.Second

// nextMsg returns the bare loop's next message, or false once the iterator
// is stopped (or its consumer or connection is gone).
//
// nats.go's Messages iterator (v1.55.0) can believe a pull is still out
// when the server holds none: checkPending skips asking while the previous
// request is being sent, and Next does not ask again while it waits. Its
// wait then ends only with ErrNoHeartbeat, and the next call pulls afresh.
// Counted in stalls, since a round with any was slowed by the check.
func nextMsg(it jetstream.MessagesContext, stalls *atomic.Int64) (jetstream.Msg, bool) {
	for {
		m, err := it.Next()
		switch {
		case err == nil:
			return m, true
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			stalls.Add(1)
		default:
			return nil, false
		}
	}
}
