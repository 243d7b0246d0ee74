package scale

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// eventType is the type of every event the harness publishes.
const eventType = "scale.ping"

// FanoutReport is one event per tenant reaching each of its endpoints.
type FanoutReport struct {
	Events    int `json:"events"`
	Expected  int `json:"expected"` // (endpoint, event) pairs, created endpoints only
	Delivered int `json:"delivered"`
	// WithinS is the deadline the deliveries were waited for.
	WithinS float64 `json:"within_s"`
	// PublishS is how long the publishing took (acks included).
	PublishS float64 `json:"publish_s"`
	// Latency is publish → first receipt of each delivered pair.
	Latency Dist `json:"publish_to_receipt"`
}

// published is a run of events: ids per tenant and when each was sent.
type published struct {
	ids  [][]string // tenant → its events' ids
	at   map[string]time.Time
	took time.Duration
}

// publish sends perTenant events to every tenant through the gateway's
// embedded NATS (tenants.<t>.scale.ping, Nats-Msg-Id = the event id the
// receiver sees as webhook-id) and waits for every PubAck.
func publish(ctx context.Context, natsURL, run string, tenants, perTenant int) (*published, error) {
	nc, err := nats.Connect(natsURL, nats.Name("switchyard scale"))
	if err != nil {
		return nil, fmt.Errorf("connect to the gateway's NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	p := &published{ids: make([][]string, tenants), at: make(map[string]time.Time, tenants*perTenant)}
	start := time.Now()
	var futures []jetstream.PubAckFuture
	for j := range perTenant {
		for k := range tenants {
			id := fmt.Sprintf("%s-t%d-e%d", run, k, j)
			m := nats.NewMsg(fmt.Sprintf("tenants.%s.%s", tenantID(k), eventType))
			m.Header.Set(jetstream.MsgIDHeader, id)
			m.Data = fmt.Appendf(nil, `{"tenant":%q,"n":%d}`, tenantID(k), j)
			p.at[id] = time.Now()
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				return nil, fmt.Errorf("publish %s: %w", id, err)
			}
			futures = append(futures, f)
			p.ids[k] = append(p.ids[k], id)
		}
	}
	deadline := time.After(60 * time.Second)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, fmt.Errorf("publish %s: %w", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
		case <-deadline:
			return nil, fmt.Errorf("publish: no PubAck within 60 s")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.took = time.Since(start)
	return p, nil
}

// waitDelivered polls until every (endpoint, event) pair of the endpoints
// has arrived, or until deadline.
func waitDelivered(ctx context.Context, rc *receiver, top *topology, p *published, endpoints []int, deadline time.Time) error {
	want := 0
	for _, i := range endpoints {
		want += len(p.ids[top.tenant[i]])
	}
	for time.Now().Before(deadline) {
		if rc.pairs(endpoints, top, p, time.Time{}) >= want {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// fanout publishes one event per tenant and measures publish-to-receipt
// at every created endpoint.
func fanout(ctx context.Context, g *gateway, rc *receiver, top *topology, o Options) (*FanoutReport, error) {
	p, err := publish(ctx, g.natsURL, "fan", len(top.byTenant), 1)
	if err != nil {
		return nil, err
	}
	eps := top.createdOf(healthy)
	if err := waitDelivered(ctx, rc, top, p, eps, p.first().Add(o.FanoutWithin)); err != nil {
		return nil, err
	}
	rep := &FanoutReport{Events: len(top.byTenant), WithinS: o.FanoutWithin.Seconds(), PublishS: p.took.Seconds()}
	var lat []time.Duration
	for _, i := range eps {
		for _, id := range p.ids[top.tenant[i]] {
			rep.Expected++
			if h, ok := rc.seen(i, id); ok {
				rep.Delivered++
				lat = append(lat, h.first.Sub(p.at[id]))
			}
		}
	}
	rep.Latency = distOf(lat)
	return rep, nil
}

// first is when the first event was sent.
func (p *published) first() time.Time {
	var t time.Time
	for _, at := range p.at {
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t
}

// createdOf lists the created endpoints that behave as b.
func (t *topology) createdOf(b behaviour) []int {
	var out []int
	for _, i := range t.of(b) {
		if t.created[i] {
			out = append(out, i)
		}
	}
	return out
}
