package dispatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A source pulls with its own pull requests rather than the client's
// Fetch because of how a pull ends at a stop. A canceled Fetch closes its
// batch and drops what is in flight to it: messages the server already
// sent (counted delivered, pending ack) but still in the client's buffers
// or on the wire, and a message the server sends to the request before it
// reads the unsubscribe, which goes out only after the batch is closed (a
// hand-back's immediate redelivery, say). Each of those comes back only
// after AckWait, unseen, so its handback is never recorded and the
// delivery is counted as an attempt. Here a stop lets the pull run on for
// pullEndWait, until the server ends it (expiry, batch filled) or the
// wait is over, and then drains it (drain): every delivery that reaches
// the connection is handed out, and once the pull has ended the server
// serves it no more.

// pullRequest is JetStream's request for the next messages of a consumer
// ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>).
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires,omitempty"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
	Group     string        `json:"group,omitempty"`
}

// pullStatusRoom is room in a pull's subscription for status messages
// (heartbeats, the request's end) beside the batch: the subscription's
// channel must never be full, or the client drops what arrives.
const pullStatusRoom = 16

// drainWait bounds the flush that ends a pull at a stop.
const drainWait = 5 * time.Second

// pullEndWait is how long a pull may run on once its source stops, before
// it is drained: far more than the server takes to send what it assigned
// to the pull before the stop, and short enough for a reload's stop.
const pullEndWait = 250 * time.Millisecond

// pullBatch is one pull's messages as they arrive; Error is read once
// Messages is closed.
type pullBatch struct {
	msgs chan jetstream.Msg
	err  error
}

func (b *pullBatch) Messages() <-chan jetstream.Msg { return b.msgs }
func (b *pullBatch) Error() error                   { return b.err }

// apiPrefix is the JetStream API's subject prefix for js.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return jetstream.DefaultAPIPrefix
}

// fetch asks src's consumer for up to n messages, for at most wait. The
// batch ends when the server ends the request (n messages, its expiry, an
// error status), or with a drain when src stops (see above).
func (d *Dispatcher) fetch(src *source, n int, wait time.Duration) (*pullBatch, error) {
	nc := d.opts.JS.Conn()
	info := src.consumer.CachedInfo()
	req := pullRequest{Batch: n, Expires: wait, Group: src.group}
	if wait >= 10*time.Second {
		// A lost connection or server shows within two heartbeats rather
		// than at the end of the wait.
		req.Heartbeat = wait / 3
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	in := make(chan *nats.Msg, n+pullStatusRoom)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, in)
	if err != nil {
		return nil, err
	}
	if err := nc.PublishRequest(d.apiPrefix+"CONSUMER.MSG.NEXT."+info.Stream+"."+info.Name, inbox, body); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	b := &pullBatch{msgs: make(chan jetstream.Msg, n)}
	go d.receive(src, nc, sub, in, req, b)
	return b, nil
}

// receive moves a pull's messages into b until the pull ends. b.msgs has
// room for the whole batch, so this never waits on the dispatcher: it
// keeps the subscription's channel empty.
func (d *Dispatcher) receive(src *source, nc *nats.Conn, sub *nats.Subscription, in chan *nats.Msg, req pullRequest, b *pullBatch) {
	defer close(b.msgs)
	got := 0
	// pass hands m out; it reports whether the pull goes on.
	pass := func(m *nats.Msg) bool {
		user, err := pullStatus(m)
		if !user {
			if err == nil {
				return true // a heartbeat
			}
			if !errors.Is(err, errPullEnded) && b.err == nil {
				b.err = err
			}
			return false
		}
		b.msgs <- &pulledMsg{msg: m, nc: nc}
		got++
		return got < req.Batch
	}
	// A server that never ends the request (its 408 lost with the
	// connection) is given up on a second after its expiry, as the
	// client's Fetch does.
	expiry := time.NewTimer(req.Expires + time.Second)
	defer expiry.Stop()
	var missed <-chan time.Time
	if req.Heartbeat > 0 {
		hb := time.NewTicker(2 * req.Heartbeat)
		defer hb.Stop()
		missed = hb.C
	}
	heard := true
	stopping := src.ctx.Done()
	var endWait <-chan time.Time // from the stop on: how long the pull may still run
	for {
		select {
		case m := <-in:
			heard = true
			if !pass(m) {
				// The server ended the request: nothing more comes to it.
				_ = sub.Unsubscribe()
				return
			}
			continue
		case <-missed:
			if heard {
				heard = false
				continue
			}
			b.err = jetstream.ErrNoHeartbeat
		case <-expiry.C:
		case <-stopping:
			// The pull may run on a little: what the server has assigned
			// to it is still on its way (see drain), and the pull may end
			// meanwhile, as the server says, with nothing left behind.
			b.err = src.ctx.Err()
			stopping = nil
			t := time.NewTimer(pullEndWait)
			defer t.Stop()
			endWait = t.C
			continue
		case <-endWait:
		}
		break
	}
	d.drain(nc, sub, in, pass)
}

// drain ends a pull the server may still serve: it unsubscribes, waits
// until the server has read that, and hands out what came meanwhile. It
// ends a pull at a stop, and one the server does not end itself. One
// window remains, in the server: a message it assigned to
// the pull just before it read the unsubscribe finds no subscriber when
// it is sent; the server then redelivers it at once, but counts the lost
// delivery if it was the message's first (consumer.go, didNotDeliver:
// decDeliveryCount has no count to take back), so it arrives as its second
// delivery, with no handback recorded. So a stop first lets the pull run
// on for pullEndWait (receive): whatever the server assigned to it before
// the stop reaches it; only a message assigned in the instant of the
// unsubscribe can still meet the server's window.
func (d *Dispatcher) drain(nc *nats.Conn, sub *nats.Subscription, in chan *nats.Msg, pass func(*nats.Msg) bool) {
	// Drain, not Unsubscribe: the subscription stays until the server
	// answers a flush, so what it sent before the unsubscribe still lands
	// in the channel rather than being dropped by the client.
	if !nc.IsConnected() {
		// What was in flight went with the connection: the server serves
		// the pull no more, and redelivers after AckWait.
		_ = sub.Unsubscribe()
		return
	}
	err := sub.Drain()
	if err == nil {
		err = nc.FlushTimeout(drainWait)
	}
	if err != nil {
		// The connection is down or stalled: what was in flight comes back
		// after AckWait, counted as a delivery.
		d.log.Warn("pull not drained: messages in flight to it return after ack_wait", "err", err)
		_ = sub.Unsubscribe()
	}
	for {
		select {
		case m := <-in:
			pass(m)
			continue
		default:
		}
		return
	}
}

// errPullEnded is a status that ends a pull without an error: its expiry
// (408) or no messages (404).
var errPullEnded = errors.New("pull ended")

// pullStatus tells a message from a status, as the client's Fetch does: a
// heartbeat (user false, err nil), the pull's end (errPullEnded), or an
// error ending it.
func pullStatus(m *nats.Msg) (user bool, err error) {
	if len(m.Data) > 0 || len(m.Header) == 0 {
		return true, nil
	}
	status := m.Header.Get("Status")
	if status == "" {
		return true, nil
	}
	descr := strings.ToLower(m.Header.Get("Description"))
	switch status {
	case "100":
		return false, nil
	case "404", "408":
		return false, errPullEnded
	case "400":
		return false, jetstream.ErrBadRequest
	case "503":
		return false, nats.ErrNoResponders
	case "423":
		return false, jetstream.ErrPinIDMismatch
	case "409":
		switch {
		case strings.Contains(descr, "message size exceeds maxbytes"):
			return false, errPullEnded
		case strings.Contains(descr, "batch completed"):
			return false, jetstream.ErrBatchCompleted
		case strings.Contains(descr, "consumer deleted"):
			return false, jetstream.ErrConsumerDeleted
		case strings.Contains(descr, "leadership change"):
			return false, jetstream.ErrConsumerLeadershipChanged
		case strings.Contains(descr, "server shutdown"):
			return false, jetstream.ErrServerShutdown
		}
	}
	return false, fmt.Errorf("nats: %s", m.Header.Get("Description"))
}
