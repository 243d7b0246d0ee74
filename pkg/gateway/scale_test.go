package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// TestScaleManyAPISinks measures one gateway with many API-created webhook
// sinks across tenants: the time to create them, idle CPU and memory, and
// publish-to-receipt latency at a steady rate spread over the tenants.
// It is a measurement, not a check, and runs only when asked:
//
//	SWITCHYARD_SCALE=2000 go test ./pkg/gateway -run TestScaleManyAPISinks -v -timeout 20m
//
// SWITCHYARD_SCALE is the number of sinks (10 per tenant);
// SWITCHYARD_SCALE_RATE the events per second (default 500).
func TestScaleManyAPISinks(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SWITCHYARD_SCALE"))
	if n <= 0 {
		t.Skip("a measurement: set SWITCHYARD_SCALE=2000 to run it")
	}
	rate := 500
	if r, _ := strconv.Atoi(os.Getenv("SWITCHYARD_SCALE_RATE")); r > 0 {
		rate = r
	}
	const perTenant = 10
	tenants := (n + perTenant - 1) / perTenant

	var mu sync.Mutex
	var lat []time.Duration
	received := 0
	rc := testutil.NewReceiver(t)
	rc.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Data struct {
				T int64 `json:"t"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		d := time.Since(time.Unix(0, env.Data.T))
		mu.Lock()
		lat = append(lat, d)
		received++
		mu.Unlock()
		w.WriteHeader(204)
	})
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop + "log: {level: warn}\n", StopWithin: 5 * time.Minute})

	start := time.Now()
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"name":"s%d","tenant":"t%d","events":["k%d.>"],"concurrency":2,"webhook":{"url":"%s/s%d","timeout":"5s","allow_private_networks":true,"tls":{"ca_file":%q}}}`,
			i, i/perTenant, i%perTenant, rc.Server.URL, i, rc.CAFile)
		var res map[string]any
		if code := apiJSON(t, g, "POST", "/v1/sinks", body, &res); code != 201 {
			t.Fatalf("create sink %d: %d %v", i, code, res)
		}
	}
	created := time.Since(start)
	t.Logf("created %d sinks over %d tenants in %s (%.1f ms each)", n, tenants, created.Round(time.Millisecond), float64(created.Milliseconds())/float64(n))

	// Idle: nothing published.
	time.Sleep(5 * time.Second)
	runtime.GC()
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(20 * time.Second)
	idle := float64(cpuTime()-cpu0) / float64(time.Since(wall0))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("idle: %.1f%% of one core (gateway, embedded nats-server and receiver in one process), RSS %d MiB, heap in use %d MiB, %d goroutines",
		idle*100, rssMiB(), ms.HeapInuse>>20, runtime.NumGoroutine())

	// Steady load: rate events/s for 20 s, each to one sink of one tenant.
	ctx := context.Background()
	total := rate * 20
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var futures []jetstream.PubAckFuture
	cpu1, wall1 := cpuTime(), time.Now()
	for i := 0; i < total; i++ {
		<-tick.C
		sinkIdx := (i * 7919) % n
		m := nats.NewMsg(fmt.Sprintf("tenants.t%d.k%d.evt", sinkIdx/perTenant, sinkIdx%perTenant))
		m.Data = []byte(fmt.Sprintf(`{"t":%d}`, time.Now().UnixNano()))
		f, err := g.Bus().JS.PublishMsgAsync(m)
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	tick.Stop()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
		}
	}
	testutil.WaitFor(t, 60*time.Second, "every event received", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received >= total
	})
	busy := float64(cpuTime()-cpu1) / float64(time.Since(wall1))
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	mu.Unlock()
	t.Logf("at %d events/s over %d tenants: p50 %s, p99 %s publish-to-receipt; %.1f%% of one core; RSS %d MiB",
		rate, tenants, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), busy*100, rssMiB())
	stopStart := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Since(stopStart)
	fmt.Printf("scale: sinks=%d tenants=%d create=%s idle_cpu=%.1f%% rss=%dMiB rate=%d/s p50=%s p99=%s busy_cpu=%.1f%% stop=%s\n",
		n, tenants, created.Round(time.Millisecond), idle*100, rssMiB(), rate, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), busy*100, stopped.Round(time.Millisecond))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssMiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	return 0
}
