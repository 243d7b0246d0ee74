package dispatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pulledMsg is a message one of the dispatcher's own pulls brought (see
// pull.go): a jetstream.Msg that settles as the client's does, with one
// reply to its ack subject.
type pulledMsg struct {
	msg  *nats.Msg
	nc   *nats.Conn
	mu   sync.Mutex
	ackd bool // settled: Ack, Nak or Term sent
}

func (m *pulledMsg) Metadata() (*jetstream.MsgMetadata, error) {
	meta := new(jetstream.MsgMetadata)
	if !parseAckReply(m.msg.Reply, meta) {
		return nil, fmt.Errorf("%w: reply subject %q", jetstream.ErrNotJSMessage, m.msg.Reply)
	}
	return meta, nil
}

func (m *pulledMsg) Data() []byte         { return m.msg.Data }
func (m *pulledMsg) Headers() nats.Header { return m.msg.Header }
func (m *pulledMsg) Subject() string      { return m.msg.Subject }
func (m *pulledMsg) Reply() string        { return m.msg.Reply }
func (m *pulledMsg) Ack() error           { return m.reply(context.Background(), "+ACK", false, true) }
func (m *pulledMsg) Nak() error           { return m.reply(context.Background(), "-NAK", false, true) }
func (m *pulledMsg) InProgress() error    { return m.reply(context.Background(), "+WPI", false, false) }
func (m *pulledMsg) Term() error          { return m.reply(context.Background(), "+TERM", false, true) }
func (m *pulledMsg) DoubleAck(ctx context.Context) error {
	return m.reply(ctx, "+ACK", true, true)
}

func (m *pulledMsg) NakWithDelay(delay time.Duration) error {
	if delay <= 0 {
		return m.Nak()
	}
	return m.reply(context.Background(), fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds()), false, true)
}

func (m *pulledMsg) TermWithReason(reason string) error {
	if reason == "" {
		return m.Term()
	}
	return m.reply(context.Background(), "+TERM "+reason, false, true)
}

// reply sends body to the message's ack subject; settles marks the
// message settled (every reply but +WPI), after which it takes no other.
func (m *pulledMsg) reply(ctx context.Context, body string, sync, settles bool) error {
	if m.msg.Reply == "" {
		return jetstream.ErrMsgNoReply
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ackd {
		return jetstream.ErrMsgAlreadyAckd
	}
	var err error
	if sync {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, syncAckTimeout)
			defer cancel()
		}
		_, err = m.nc.RequestWithContext(ctx, m.msg.Reply, []byte(body))
	} else {
		err = m.nc.Publish(m.msg.Reply, []byte(body))
	}
	if err == nil && settles {
		m.ackd = true
	}
	return err
}

// syncAckTimeout bounds DoubleAck when its context has no deadline.
const syncAckTimeout = 5 * time.Second
