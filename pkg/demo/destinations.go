package demo

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
	"github.com/switchyard-dev/switchyard/internal/pubsubfake"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/receiver"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/eventbridge"
)

// destination is where the demo's sink delivers, on this machine.
type destination struct {
	sinkYAML string // the sink's destination block, indented as a list item's
	describe string
	close    func()
	// kinds, when set, changes how the demo's sink kinds open drivers.
	kinds func(*sink.Registry)
}

func openDestination(kind string, t *tally, dir string) (*destination, error) {
	switch kind {
	case "webhook":
		return webhookDestination(t, dir)
	case "eventbridge":
		return eventBridgeDestination(t)
	case "pubsub":
		return pubSubDestination(t)
	}
	return nil, fmt.Errorf("demo: unknown sink %q (webhook, eventbridge or pubsub)", kind)
}

// webhookDestination is an HTTPS receiver that verifies every signature.
func webhookDestination(t *tally, dir string) (*destination, error) {
	secret := newSecret()
	rcv, err := receiver.New(receiver.Options{Secrets: []string{secret}, Script: script, OnDelivery: func(d receiver.Delivery) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if d.Valid {
			t.verified++
		} else {
			t.invalid++
		}
		if d.Status >= 300 {
			t.failed++
			return
		}
		t.accept(d.ID, d.Latency)
	}})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewTLSServer(rcv)
	caFile := filepath.Join(dir, "receiver-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		srv.Close()
		return nil, err
	}
	return &destination{
		sinkYAML: fmt.Sprintf(`    webhook:
      url: %s/hooks
      secrets: [%q]
      timeout: 5s
      allow_private_networks: true   # the demo receiver is on loopback
      tls: {ca_file: %q}
`, srv.URL, secret, caFile),
		describe: "receiver (HTTPS, verifies signatures): " + srv.URL + "/hooks",
		close:    srv.Close,
	}, nil
}

// eventBridgeDestination is the protocol-faithful PutEvents fake, reached
// through the AWS SDK's endpoint override: throttling and internal errors
// are retried, MalformedDetail is dead-lettered.
func eventBridgeDestination(t *tally) (*destination, error) {
	eb := fakeeb.New()
	eb.Script = func(id string, n int) string {
		switch script(id, n) {
		case 410:
			return "MalformedDetail"
		case 500:
			return "InternalFailure"
		case 503:
			return "ThrottlingException"
		}
		return ""
	}
	eb.OnEntry = func(e fakeeb.Entry, now time.Time) {
		var env event.Envelope
		_ = json.Unmarshal([]byte(e.Detail), &env)
		t.mu.Lock()
		t.accept(env.ID, now.Sub(env.Timestamp))
		t.mu.Unlock()
	}
	countFailures(eb, t)
	return &destination{
		// The fake needs no credentials, but the SDK signs every request:
		// the demo's eventbridge kind signs with static ones (the process
		// environment is left alone).
		kinds: func(r *sink.Registry) {
			sink.Set(r, eventbridge.Spec(awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("demo", "demo", ""))))
		},
		sinkYAML: fmt.Sprintf(`    batch: {max_events: 10, max_wait: 20ms}
    eventbridge: {bus: default, region: us-east-1, source: com.example.switchyard, endpoint: %q}
`, eb.URL),
		describe: "EventBridge PutEvents (local fake, via the AWS SDK): " + eb.URL,
		close:    eb.Close,
	}, nil
}

// countFailures wraps the script so every refused entry is counted.
func countFailures(eb *fakeeb.Server, t *tally) {
	inner := eb.Script
	eb.Script = func(id string, n int) string {
		code := inner(id, n)
		if code != "" {
			t.mu.Lock()
			t.failed++
			t.mu.Unlock()
		}
		return code
	}
}

// pubSubDestination is Google's in-process Pub/Sub fake (pstest); a
// reactor fails, with UNAVAILABLE, publish requests that carry a scripted
// event, so the demo shows retries (and, here, no dead letters).
func pubSubDestination(t *tally) (*destination, error) {
	r := &psReactor{t: t, attempts: map[string]int{}}
	srv := pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: &pubsubfake.RefusePublish{Refuse: r.refuse}})
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/demo/topics/events"}); err != nil {
		srv.Close()
		return nil, err
	}
	r.srv = srv
	stop := make(chan struct{})
	go r.collect(stop)
	return &destination{
		sinkYAML: fmt.Sprintf(`    batch: {max_events: 100, max_wait: 20ms}
    pubsub: {project: demo, topic: events, endpoint: %q}
`, srv.Addr),
		describe: "Pub/Sub topic projects/demo/topics/events (pstest, Google's in-process fake): " + srv.Addr,
		close:    func() { close(stop); srv.Close() },
	}, nil
}

// psReactor refuses, by the demo's script, publish requests carrying a
// scripted event, and counts the events they carried as failed.
type psReactor struct {
	t        *tally
	srv      *pstest.Server
	attempts map[string]int // serialized by pubsubfake.RefusePublish
}

func (r *psReactor) refuse(ids []string) error {
	var fail codes.Code
	pastScript := false
	for _, id := range ids {
		r.attempts[id]++
		// Only transient refusals: Pub/Sub refuses a whole request, so a
		// permanent one would take the scripted event's bundle mates with it.
		switch script(id, r.attempts[id]) {
		case 500, 503:
			fail = codes.Unavailable
		}
		pastScript = pastScript || r.attempts[id] > 2
	}
	// The script fails nothing past a second attempt; an event on its
	// third was refused for its bundle mates, and refusing it again could
	// take it to the schedule's last attempt and a dead letter.
	if fail == codes.OK || pastScript {
		return nil
	}
	r.t.mu.Lock()
	r.t.failed += len(ids)
	r.t.mu.Unlock()
	return status.Error(fail, "refused by the demo's script")
}

// collect moves what the topic accepted into the tally.
func (r *psReactor) collect(stop <-chan struct{}) {
	seen := 0
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		msgs := r.srv.Messages()
		r.t.mu.Lock()
		for _, m := range msgs[seen:] {
			sent, _ := time.Parse(time.RFC3339Nano, m.Attributes[event.AttrTime])
			r.t.accept(m.Attributes[event.AttrID], m.PublishTime.Sub(sent))
		}
		r.t.mu.Unlock()
		seen = len(msgs)
	}
}
