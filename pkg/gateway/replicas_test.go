package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/replicas"
)

// startReplicas runs n gateways against one JetStream server, with the
// same sink "s" except that replica i posts to /r<i>, so the receiver
// knows who delivered. sinkExtra is more of the sink's YAML.
func startReplicas(t *testing.T, js *testutil.JetStream, rc *testutil.Receiver, n int, sinkExtra string) []*gateway.Gateway {
	gs, _ := startReplicasStoppable(t, js, rc, n, sinkExtra)
	return gs
}

// startReplicasStoppable is startReplicas with a stop for each replica.
// Each replica is ready before the next starts.
func startReplicasStoppable(t *testing.T, js *testutil.JetStream, rc *testutil.Receiver, n int, sinkExtra string) ([]*gateway.Gateway, []func() error) {
	t.Helper()
	var gs []*gateway.Gateway
	var stops []func() error
	for i := 1; i <= n; i++ {
		g, stop := gatewaytest.Run(t, gatewaytest.Options{YAML: replicaSrc(js, rc, i, "127.0.0.1:0", sinkExtra), StopWithin: 30 * time.Second})
		gs = append(gs, g)
		stops = append(stops, stop)
	}
	return gs, stops
}

// replicaSrc is the config of replica i: its admin listens on admin, and
// its sink "s" posts to /r<i> of rc. sinkExtra is more of the sink's YAML.
func replicaSrc(js *testutil.JetStream, rc *testutil.Receiver, i int, admin, sinkExtra string) string {
	return fmt.Sprintf(`
nats: {url: %q}
admin: {listen: %q}
shutdown_grace: 1s
stream: {max_bytes: 8MB}
dead_letters: {max_bytes: 4MB}
sinks:
  - name: s
    events: [">"]
%s    webhook:
      url: %s/r%d
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %s}
`, js.URL(), admin, sinkExtra, rc.Server.URL, i, secret, rc.CAFile)
}

// fastHeartbeats makes replicas beat every 200ms until the test ends, so
// they count each other quickly.
func fastHeartbeats(t *testing.T) {
	old := replicas.HeartbeatEvery
	replicas.HeartbeatEvery = 200 * time.Millisecond
	t.Cleanup(func() { replicas.HeartbeatEvery = old })
}

// Replicas count each other through their heartbeats, and a replica that
// stops takes its key away, so the others take its share of the rate.
func TestReplicaCountFollowsStops(t *testing.T) {
	fastHeartbeats(t)
	js := testutil.StartJetStream(t, nil)
	rc := testutil.NewReceiver(t)
	gs, stops := startReplicasStoppable(t, js, rc, 3, "    rate_limit: 30/s\n")
	counts := func(want int, gs ...*gateway.Gateway) func() bool {
		return func() bool {
			for _, g := range gs {
				if gateway.Replicas(g) != want {
					return false
				}
			}
			return true
		}
	}
	testutil.WaitFor(t, 10*time.Second, "each replica counting three", counts(3, gs...))
	stops[2]()
	testutil.WaitFor(t, 2*time.Second, "the other two counting two after a stop", counts(2, gs[:2]...))
}

func publishN(t *testing.T, js *testutil.JetStream, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		m := nats.NewMsg("events.order.completed")
		m.Header.Set("Nats-Msg-Id", fmt.Sprintf("r-%05d", i))
		m.Data = []byte(`{}`)
		if _, err := js.JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
}

// hitsBetween counts the receiver's requests per path in [from, to).
func hitsBetween(rc *testutil.Receiver, from, to time.Time) map[string]int {
	out := map[string]int{}
	for _, h := range rc.Hits("") {
		if !h.At.Before(from) && h.At.Before(to) {
			out[h.Sink]++
		}
	}
	return out
}

// A rate_limit is for the sink as a whole: three replicas of a 30/s sink
// deliver about 30/s together (each keeps to 10/s once the heartbeats in
// the state bucket have told it of the other two), not 90.
func TestRateLimitSharedByReplicas(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	rc := testutil.NewReceiver(t)
	gs := startReplicas(t, js, rc, 3, "    concurrency: 4\n    rate_limit: 30/s\n")
	testutil.WaitFor(t, 15*time.Second, "each replica counting three", func() bool {
		for _, g := range gs {
			if gateway.Replicas(g) != 3 {
				return false
			}
		}
		return true
	})
	publishN(t, js, 0, 900)
	time.Sleep(2 * time.Second) // past the buckets' first bursts
	from := time.Now()
	const window = 10 * time.Second
	time.Sleep(window)
	got := hitsBetween(rc, from, from.Add(window))
	total := got["r1"] + got["r2"] + got["r3"]
	rate := float64(total) / window.Seconds()
	t.Logf("three replicas of a 30/s sink: %.1f/s together (by replica: %v)", rate, got)
	if rate < 24 || rate > 36 {
		t.Errorf("%.1f/s, want about 30", rate)
	}
	for _, r := range []string{"r1", "r2", "r3"} {
		if got[r] == 0 {
			t.Errorf("replica %s delivered nothing", r)
		}
	}
}

// When one replica's breaker opens, the sink's consumer is paused in
// JetStream, so the other replicas stop getting its events too, though
// their own deliveries succeed; after the cool-down they deliver again.
func TestBreakerOpensForTheSink(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, path, _ string, _ int) {
		if path == "r1" {
			w.WriteHeader(http.StatusInternalServerError) // only replica 1's endpoint fails
		}
	})
	gs := startReplicas(t, js, rc, 3, `    concurrency: 2
    retry: {schedule: [200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms]}
    breaker: {consecutive_failures: 3, cool_down: 6s}
`)
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() { // a steady flow
		defer close(published)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			m := nats.NewMsg("events.order.completed")
			m.Header.Set("Nats-Msg-Id", fmt.Sprintf("b-%05d", i))
			_, _ = js.JS.PublishMsg(context.Background(), m)
		}
	}()
	defer func() { close(stop); <-published }()

	var opened time.Time
	testutil.WaitFor(t, 20*time.Second, "replica 1's breaker open", func() bool {
		st, err := gs[0].Admin().Sinks.Sinks(context.Background())
		if err == nil && len(st) == 1 && st[0].State == "open" {
			opened = time.Now()
			return true
		}
		return false
	})
	// What the others had pulled before the pause may still go out (their
	// windows: 2 × concurrency, within the first second); then nothing
	// until the cool-down ends (6s): watched up to 5s after it opened.
	testutil.Holds(t, time.Until(opened.Add(5*time.Second)), "no delivery by replicas 2 and 3 while replica 1's breaker is open", func() bool {
		held := hitsBetween(rc, opened.Add(time.Second), opened.Add(5*time.Second))
		return held["r2"] == 0 && held["r3"] == 0
	})
	held := hitsBetween(rc, opened.Add(time.Second), opened.Add(5*time.Second))
	for _, r := range []string{"r2", "r3"} {
		if held[r] > 0 {
			t.Errorf("replica %s delivered %d events while replica 1's breaker was open", r, held[r])
		}
	}
	for _, g := range gs[1:] {
		st, _ := g.Admin().Sinks.Sinks(context.Background())
		t.Logf("another replica's view of the sink while open: %s %s", st[0].State, st[0].StateReason)
	}
	testutil.WaitFor(t, 20*time.Second, "the others delivering after the cool-down", func() bool {
		after := hitsBetween(rc, opened.Add(6*time.Second), time.Now())
		return after["r2"]+after["r3"] > 0
	})
}

// Two replicas on one host (one hostname) whose admin listeners share a
// port (on two loopback addresses here; in production, two containers in
// one pod network or two hosts named alike) are two replicas: each keeps
// its own heartbeat key, so a shared rate_limit is split in two, not
// taken twice.
func TestReplicasSharingHostAndAdminPortCountTwo(t *testing.T) {
	fastHeartbeats(t)
	js := testutil.StartJetStream(t, nil)
	rc := testutil.NewReceiver(t)
	port := testutil.FreePort(t)
	var gs []*gateway.Gateway
	for i, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		g, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: replicaSrc(js, rc, i+1, fmt.Sprintf("%s:%d", ip, port), "    rate_limit: 30/s\n"), StopWithin: 30 * time.Second})
		gs = append(gs, g)
	}
	testutil.WaitFor(t, 5*time.Second, "each replica counting two", func() bool {
		return gateway.Replicas(gs[0]) == 2 && gateway.Replicas(gs[1]) == 2
	})
}
