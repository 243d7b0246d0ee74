package chartcheck

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// loadCompose loads deploy/compose.yaml as `docker compose config` would:
// the Compose Specification's schema, interpolation, and the consistency
// checks (services, volumes and dependencies that exist). No Docker engine
// is needed.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../compose.yaml"},
		cli.WithWorkingDirectory(".."), cli.WithEnv([]string{}), cli.WithProfiles([]string{"tools"}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	return p
}

// TestComposeFile: 3 NATS nodes in one JetStream cluster, 2 replicas of the
// gateway with the same config against all three, and the verifying
// receiver the sink delivers to.
func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	svc := func(name string) types.ServiceConfig {
		t.Helper()
		s, err := p.GetService(name)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		return s
	}

	conf, err := os.ReadFile("../nats-cluster.conf")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		s := svc(n)
		name := s.Environment["SERVER_NAME"]
		if name == nil || names[*name] {
			t.Errorf("%s: SERVER_NAME %v missing or not unique (JetStream needs unique server names)", n, name)
		} else {
			names[*name] = true
		}
		if !strings.Contains(string(conf), "nats-route://"+n+":6222") {
			t.Errorf("nats-cluster.conf has no route to %s", n)
		}
		var store bool
		for _, v := range s.Volumes {
			store = store || (v.Type == types.VolumeTypeVolume && v.Target == "/data")
		}
		if !store {
			t.Errorf("%s: JetStream's /data is not on a named volume", n)
		}
		if s.HealthCheck == nil {
			t.Errorf("%s: no healthcheck, so the replicas cannot wait for it", n)
		}
	}
	if !strings.Contains(string(conf), "sync_interval: always") {
		t.Error("nats-cluster.conf: want sync_interval: always")
	}

	cfgText, err := os.ReadFile("../compose/switchyard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		NATS struct {
			URL string `json:"url"`
		} `json:"nats"`
		Stream struct {
			Replicas int `json:"replicas"`
		} `json:"stream"`
		ShutdownGrace string `json:"shutdown_grace"`
		Sinks         []struct {
			Webhook struct {
				URL string `json:"url"`
			} `json:"webhook"`
		} `json:"sinks"`
	}
	if err := yaml.Unmarshal(cfgText, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"nats-1", "nats-2", "nats-3"} {
		if !strings.Contains(cfg.NATS.URL, "nats://"+n+":4222") {
			t.Errorf("compose/switchyard.yaml: nats.url %q does not list %s", cfg.NATS.URL, n)
		}
	}
	if cfg.Stream.Replicas != 3 {
		t.Errorf("stream.replicas = %d, want 3", cfg.Stream.Replicas)
	}
	grace, err := time.ParseDuration(cfg.ShutdownGrace)
	if err != nil {
		t.Fatalf("shutdown_grace: %v", err)
	}

	for _, n := range []string{"switchyard-1", "switchyard-2"} {
		s := svc(n)
		if s.Image != "switchyard:dev" || !slices.Equal(s.Command, types.ShellCommand{"run", "--config", "/etc/switchyard/switchyard.yaml"}) {
			t.Errorf("%s: image %q command %q", n, s.Image, s.Command)
		}
		if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= grace {
			t.Errorf("%s: stop_grace_period %v is not longer than shutdown_grace %s", n, s.StopGracePeriod, grace)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: want read_only and cap_drop ALL", n)
		}
		var mounted bool
		for _, v := range s.Volumes {
			mounted = mounted || (v.Target == "/etc/switchyard/switchyard.yaml" && filepath.Base(v.Source) == "switchyard.yaml" && v.ReadOnly)
		}
		if !mounted {
			t.Errorf("%s: compose/switchyard.yaml is not mounted read-only as the config", n)
		}
		for _, dep := range []string{"nats-1", "nats-2", "nats-3"} {
			if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: does not wait for %s to be healthy", n, dep)
			}
		}
	}

	// The sink delivers to the receiver, which verifies with the secret the
	// gateway signs with.
	for _, n := range []string{"switchyard-1", "switchyard-2", "receiver", "publish"} {
		s := svc(n)
		if s.Image != "switchyard:dev" || s.Build == nil {
			t.Errorf("%s: want it to build switchyard:dev", n)
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: builds from %s: %v", n, filepath.Join(s.Build.Context, s.Build.Dockerfile), err)
		}
	}
	rcv := svc("receiver")
	if len(cfg.Sinks) != 1 {
		t.Fatalf("%d sinks, want 1", len(cfg.Sinks))
	}
	u, err := url.Parse(cfg.Sinks[0].Webhook.URL)
	if err != nil || u.Hostname() != "receiver" {
		t.Fatalf("sink URL %q: want the receiver service", cfg.Sinks[0].Webhook.URL)
	}
	cmd := []string(rcv.Command)
	if len(cmd) == 0 || cmd[0] != "listen" || !slices.Contains(cmd, "0.0.0.0:"+u.Port()) {
		t.Errorf("receiver command %q: want `listen --addr 0.0.0.0:%s`", cmd, u.Port())
	}
	var signing string
	if v := svc("switchyard-1").Environment["RECEIVER_SECRET"]; v != nil {
		signing = *v
	}
	if i := slices.Index(cmd, "--secret"); signing == "" || i < 0 || i+1 >= len(cmd) || cmd[i+1] != signing {
		t.Errorf("receiver verifies with %q, the gateway signs with %q", cmd, signing)
	}
}

// TestComposeConfigValidates: the config both replicas run passes
// `switchyard validate` with the environment compose gives them.
func TestComposeConfigValidates(t *testing.T) {
	p := loadCompose(t)
	s, err := p.GetService("switchyard-1")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range s.Environment {
		if v != nil {
			env = append(env, fmt.Sprintf("%s=%s", k, *v))
		}
	}
	cmd := exec.Command(switchyardBin(t), "validate", "--config", "../compose/switchyard.yaml")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("switchyard validate deploy/compose/switchyard.yaml: %v\n%s", err, out)
	}
}
