package sink_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// probe is a kind that exists only in this test's registry.
type probe struct {
	Target  string            `yaml:"target"`
	Token   string            `yaml:"token"`
	Headers map[string]string `yaml:"headers"`
	Timeout config.Duration   `yaml:"timeout"`
	Mode    string            `yaml:"mode"`
}

type nopDriver struct{}

func (nopDriver) Send(context.Context, []*event.Event) error { return nil }
func (nopDriver) Close(context.Context) error                { return nil }

func probeRegistry() *sink.Registry {
	r := sink.NewRegistry()
	sink.Add(r, sink.Spec[probe]{
		Kind:     "probe",
		Secrets:  []string{"token", "headers"},
		MaxBatch: 7,
		Defaults: func(c *probe) {
			if c.Mode == "" {
				c.Mode = "fast"
			}
		},
		SinkDefaults: func(s *config.Sink) {
			if s.Concurrency == 0 {
				s.Concurrency = 3
			}
		},
		Validate: func(c *probe, chk *config.Check) {
			if c.Target == "" {
				chk.At("target", "missing")
			}
			if c.Mode != "fast" && c.Mode != "slow" {
				chk.At("mode", "must be fast or slow, got %q", c.Mode)
			}
		},
		Open: func(_ context.Context, c *probe, _ config.Sink, _ sink.Env) (sink.Driver, error) {
			return nopDriver{}, nil
		},
	})
	return r
}

// A kind registered on a registry of its own is decoded, defaulted,
// validated (with FILE:LINE), redacted, diffed and opened through it; the
// config package knows nothing about it.
func TestOwnRegistryDrivesTheLoader(t *testing.T) {
	r := probeRegistry()
	load := config.Loader{Kinds: r}
	src := "sinks:\n  - name: a\n    events: [\">\"]\n    probe:\n      target: x\n      token: hunter2\n      headers: {K: v}\n"
	cfg, err := load.Parse("p.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	p := config.Settings[probe](&s)
	if s.Kind() != "probe" || p == nil || p.Mode != "fast" || p.Timeout.D != config.DefaultTimeout || s.Timeout() != config.DefaultTimeout || s.Concurrency != 3 {
		t.Fatalf("decoded %q %+v, concurrency %d", s.Kind(), p, s.Concurrency)
	}
	if s.Dest.Node == nil || s.Dest.Node.Line != 5 {
		t.Errorf("the block's node is kept with its line: %+v", s.Dest.Node)
	}

	red := config.Redacted(cfg)
	rp := config.Settings[probe](&red.Sinks[0])
	if rp.Token == "hunter2" || !strings.HasPrefix(rp.Token, "sha256:") || rp.Headers["K"] == "v" || p.Token != "hunter2" {
		t.Errorf("redacted %+v (original %+v)", rp, p)
	}
	if red.Sinks[0].Dest.Node != nil {
		t.Error("a redacted config keeps the block as written (with its secrets)")
	}
	// The JSON form (/v1/config) reads back and plans against the file.
	b, err := json.Marshal(red)
	if err != nil || strings.Contains(string(b), "hunter2") {
		t.Fatalf("json %s, %v", b, err)
	}
	var back config.Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if plan := config.Diff(&back, red); !plan.Empty() {
		t.Errorf("same config read back from JSON, plan: %v", plan)
	}
	cfg2, _ := load.Parse("p.yaml", []byte(strings.Replace(src, "hunter2", "other", 1)), nil)
	if plan := config.Diff(&back, config.Redacted(cfg2)); len(plan.Changed["a"]) != 1 || plan.Changed["a"][0] != "probe.token" {
		t.Errorf("changed token, plan %+v", plan)
	}

	d, err := r.Open(context.Background(), s, sink.Env{})
	if err != nil || d == nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := sink.Open(context.Background(), s, sink.Env{}); err == nil {
		t.Error("the default registry opened a kind it does not have")
	}

	_, err = load.Parse("p.yaml", []byte("sinks:\n  - name: a\n    events: [\">\"]\n    probe:\n      mode: odd\n      tokn: x\n"), nil)
	for _, want := range []string{"p.yaml:4: sinks[0].probe.target: missing", "p.yaml:5: sinks[0].probe.mode: must be fast or slow", "p.yaml:6: sinks[0].probe.tokn: unknown field"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems:\n%v\nwant %q", err, want)
		}
	}
	_, err = load.Parse("p.yaml", []byte("sinks:\n  - name: a\n    events: [\">\"]\n    webhook: {url: https://x}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "sinks[0].webhook: unknown field (known:") || !strings.Contains(err.Error(), "destinations: probe") {
		t.Errorf("a kind of another registry: %v", err)
	}
}

func TestAddRefusesAKindNamedLikeACommonField(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a kind named batch was registered")
		}
	}()
	sink.Add(sink.NewRegistry(), sink.Spec[probe]{Kind: "batch", Open: func(context.Context, *probe, config.Sink, sink.Env) (sink.Driver, error) { return nopDriver{}, nil }})
}

// A sink's batch is its config's batch.max_events capped at the kind's
// MaxBatch, the one place the kind states it.
func TestBatchSizeFromTheSpec(t *testing.T) {
	r := probeRegistry()
	for _, tt := range []struct{ configured, want int }{{0, 7}, {3, 3}, {7, 7}, {50, 7}} {
		s := config.Sink{Name: "a", Dest: config.Destination{Kind: "probe"}}
		s.Batch.MaxEvents = tt.configured
		if got := r.BatchSize(s); got != tt.want {
			t.Errorf("max_events %d: batch %d, want %d", tt.configured, got, tt.want)
		}
	}
	if got := r.BatchSize(config.Sink{Name: "b", Dest: config.Destination{Kind: "nosuch"}}); got != 1 {
		t.Errorf("unknown kind: batch %d, want 1", got)
	}
}
