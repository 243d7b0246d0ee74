package autodisable

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// dispatcher is a sink's delivery history, as a dispatcher reports it.
type dispatcher struct {
	state   dispatch.State
	failing time.Time
}

func (d dispatcher) State() dispatch.State   { return d.state }
func (d dispatcher) FailingSince() time.Time { return d.failing }
func (d dispatcher) Snapshot() (time.Time, string, time.Time) {
	return time.Time{}, "503 Service Unavailable", d.failing
}

type sinks struct {
	list []Sink
	fail map[string]bool // Disable fails for these

	mu       sync.Mutex
	disabled map[string]string
}

func (s *sinks) AutoDisableSinks() []Sink { return s.list }

func (s *sinks) Disable(_ context.Context, name, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[name] {
		return errors.New("bucket unavailable")
	}
	if s.disabled == nil {
		s.disabled = map[string]string{}
	}
	s.disabled[name] = reason
	return nil
}

func (s *sinks) reason(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disabled[name]
}

// Only a sink failing for its whole disable_after is disabled, with the
// last error in the reason and counted once disabled; one paused, disabled
// already, without disable_after or failing for less is left alone.
func TestOnlySinksFailingForDisableAfterAreDisabled(t *testing.T) {
	old := Interval
	Interval = 20 * time.Millisecond
	t.Cleanup(func() { Interval = old })
	long := time.Now().Add(-time.Hour)
	running := dispatch.StateRunning
	s := &sinks{fail: map[string]bool{"unlucky": true}, list: []Sink{
		{Name: "failing", After: time.Minute, Dispatcher: dispatcher{running, long}},
		{Name: "unlucky", After: time.Minute, Dispatcher: dispatcher{running, long}},
		{Name: "recent", After: time.Minute, Dispatcher: dispatcher{running, time.Now()}},
		{Name: "healthy", After: time.Minute, Dispatcher: dispatcher{running, time.Time{}}},
		{Name: "paused", After: time.Minute, Dispatcher: dispatcher{dispatch.StatePaused, long}},
		{Name: "off", After: time.Minute, Disabled: true, Dispatcher: dispatcher{running, long}},
		{Name: "never", Dispatcher: dispatcher{running, long}},
	}}
	m := telemetry.NewMetrics()
	w := lifecycle.Go(&Watcher{Sinks: s, Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the failing sink disabled", func() bool { return s.reason("failing") != "" })
	testutil.WaitFor(t, 5*time.Second, "it counted", func() bool { return promtest.ToFloat64(m.AutoDisabled.WithLabelValues("failing")) >= 1 })
	_ = w.Stop()
	if r := s.reason("failing"); !strings.Contains(r, "every delivery failed for 1m0s") || !strings.Contains(r, "503 Service Unavailable") {
		t.Errorf("reason %q", r)
	}
	for _, name := range []string{"recent", "healthy", "paused", "off", "never"} {
		if r := s.reason(name); r != "" {
			t.Errorf("%s disabled: %s", name, r)
		}
	}
	if n := promtest.ToFloat64(m.AutoDisabled.WithLabelValues("unlucky")); n != 0 {
		t.Errorf("a sink whose disabling failed counted %v times", n)
	}
}
