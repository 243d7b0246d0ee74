package clustertest_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClusterSinkCeiling measures how many API-created sinks a 3-node R3
// cluster carries: one replica creates CLUSTERTEST_SINKS webhook sinks
// (two R3 consumers each: events and redrive), then the cluster idles.
// It is a measurement, run only when asked:
//
//	CLUSTERTEST_SINKS=500 go test -run TestClusterSinkCeiling -v ./internal/clustertest
func TestClusterSinkCeiling(t *testing.T) {
	skipShort(t)
	n, _ := strconv.Atoi(os.Getenv("CLUSTERTEST_SINKS"))
	if n <= 0 {
		t.Skip("a measurement: set CLUSTERTEST_SINKS=500 to run it")
	}
	c := startCluster(t)
	r := startReplica(t, 1, c.URL(), "api: {allow: [private_networks]}", "", nil)
	r.waitReady(120 * time.Second)
	start := time.Now()
	hc := http.Client{Timeout: 2 * time.Minute}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"name":"s%d","tenant":"t%d","delivery":"dedicated","events":["k.>"],"webhook":{"url":"https://127.0.0.1:9/s%d","allow_private_networks":true}}`, i, i%50, i)
		resp, err := hc.Post(r.admin+"/v1/sinks", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("sink %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("sink %d: %s", i, resp.Status)
		}
	}
	created := time.Since(start)
	time.Sleep(10 * time.Second)
	cpu0, wall0 := c.cpu(), time.Now()
	time.Sleep(20 * time.Second)
	idle := float64(c.cpu()-cpu0) / float64(time.Since(wall0))
	fmt.Printf("cluster: sinks=%d consumers=%d (R3) create=%s (%.0f ms each) nats_idle_cpu=%.0f%% of one core (3 nodes) nats_rss=%s\n",
		n, 2*n, created.Round(time.Second), float64(created.Milliseconds())/float64(n), idle*100, c.rss())
}

// cpu is the nodes' CPU time so far.
func (c *cluster) cpu() time.Duration {
	var total time.Duration
	for _, p := range c.nodes {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		total += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
	}
	return total
}

// rss is each node's resident memory.
func (c *cluster) rss() string {
	var out []string
	for _, p := range c.nodes {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.Atoi(f[1])
				out = append(out, fmt.Sprintf("%dMiB", kb>>10))
			}
		}
	}
	return strings.Join(out, "/")
}
