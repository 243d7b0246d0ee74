package clustertest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// Binaries built once per test run.
var natsServerBin, switchyardBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips
	}
	tmp, err := os.MkdirTemp("", "switchyard-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := buildBinaries(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// buildBinaries builds switchyard into tmp, and nats-server (the version
// go.mod pins) into the user's cache, where it is kept between runs.
func buildBinaries(tmp string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return err
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	ver, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/nats-io/nats-server/v2").Output()
	if err != nil {
		return fmt.Errorf("nats-server version: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = tmp
	}
	if bin := os.Getenv("CLUSTERTEST_SWITCHYARD_BIN"); bin != "" {
		// A given build, such as an earlier release to compare with.
		switchyardBin = bin
	}
	natsServerBin = filepath.Join(cache, "switchyard-test", "nats-server-"+strings.TrimSpace(string(ver)))
	if _, err := os.Stat(natsServerBin); err != nil {
		cmd := exec.Command("go", "build", "-o", natsServerBin, "github.com/nats-io/nats-server/v2")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nats-server: %w\n%s", err, out)
		}
	}
	if switchyardBin != "" {
		return nil
	}
	switchyardBin = filepath.Join(tmp, "switchyard")
	cmd := exec.Command("go", "build", "-o", switchyardBin, "./cmd/switchyard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("switchyard: %w\n%s", err, out)
	}
	return nil
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("fault tests against a 3-node NATS cluster run the built binaries; skipped with -short")
	}
}

// storeDir is a directory on tmpfs when the machine has one: kill -9
// needs no fsync to lose nothing, and tmpfs keeps kills and restarts fast.
func storeDir(t *testing.T) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "switchyard-clustertest-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process that can be killed with SIGKILL and started
// again; an exit nobody asked for is recorded.
type proc struct {
	t       *testing.T
	name    string
	args    []string
	env     []string
	logPath string

	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	killing    bool
	unexpected []string
}

func (p *proc) start() {
	p.t.Helper()
	logs, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(logs, "=== %s start %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.killing = cmd, exited, false
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logs.Close()
		p.mu.Lock()
		if !p.killing {
			p.unexpected = append(p.unexpected, fmt.Sprintf("%s exited on its own (%v); log:\n%s", p.name, err, tail(p.logPath, 15)))
		}
		p.mu.Unlock()
		close(exited)
	}()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killing = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// logCount is how many lines of the process's log (all its lives)
// contain s.
func (p *proc) logCount(s string) int {
	b, _ := os.ReadFile(p.logPath)
	return strings.Count(string(b), s)
}

func (p *proc) exits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unexpected...)
}

// cluster is three nats-server processes with JetStream and routes on
// loopback.
type cluster struct {
	t     *testing.T
	nodes []*proc
	ports []int
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	dir := storeDir(t)
	c := &cluster{t: t}
	var routes []string
	clusterPorts := make([]int, 3)
	for i := range clusterPorts {
		clusterPorts[i] = testutil.FreePort(t)
		c.ports = append(c.ports, testutil.FreePort(t))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i]))
	}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		conf := filepath.Join(dir, name+".conf")
		// no_advertise: clients keep to the URLs they were given (the
		// partition test puts proxies there).
		cfg := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream {
  store_dir: %q
  sync_interval: always
  max_file_store: 4GB
  max_memory_store: 256MB
}
cluster {
  name: switchyard-test
  listen: 127.0.0.1:%d
  no_advertise: true
  routes: [%s]
}
`, name, c.ports[i], filepath.Join(dir, name), clusterPorts[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &proc{t: t, name: "nats " + name, args: []string{natsServerBin, "-c", conf}, logPath: filepath.Join(t.TempDir(), name+".log")}
		c.nodes = append(c.nodes, p)
		p.start()
		t.Cleanup(p.kill)
	}
	c.waitReady(60 * time.Second)
	return c
}

// URL lists every node, as a replica's nats.url does.
func (c *cluster) URL() string {
	var urls []string
	for _, p := range c.ports {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	return strings.Join(urls, ",")
}

// connect is a client of the whole cluster that never gives up
// reconnecting.
func (c *cluster) connect() (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

// waitReady waits until every node answers and JetStream has a meta
// leader.
func (c *cluster) waitReady(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for i, port := range c.ports {
		var err error
		ready := testutil.Poll(time.Until(deadline), func() bool {
			var nc *nats.Conn
			if nc, err = nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.Timeout(time.Second)); err != nil {
				return false
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err = js.AccountInfo(ctx)
			return err == nil
		})
		if !ready {
			c.t.Fatalf("node %d not ready after %s: %v\n%s", i+1, d, err, tail(c.nodes[i].logPath, 20))
		}
	}
}

// replica is one `switchyard run` child process.
type replica struct {
	*proc
	admin string

	mu     sync.Mutex
	banked float64 // deliveries counted by earlier lives
	last   float64 // by this life, at the last scrape
}

// startReplica writes the replica's config (the same sinks for all; only
// the admin port differs) and runs it. It does not wait for readiness.
func startReplica(t *testing.T, id int, natsURL, top, sinks string, env []string) *replica {
	t.Helper()
	dir := t.TempDir()
	adminPort := testutil.FreePort(t)
	cfg := fmt.Sprintf(`nats: {url: %q}
admin: {listen: "127.0.0.1:%d"}
shutdown_grace: 2s
log: {level: info, format: json}
stream: {replicas: 3, max_bytes: 256MB}
dead_letters: {max_bytes: 32MB}
attempts: {max_bytes: 64MB}
%s
sinks:%s`, natsURL, adminPort, top, sinks)
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &replica{admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		proc: &proc{t: t, name: fmt.Sprintf("replica %d", id), args: []string{switchyardBin, "run", "--config", path, "--watch=false"},
			env: append([]string{fmt.Sprintf("SWITCHYARD_REPLICA=%d", id)}, env...), logPath: filepath.Join(dir, "switchyard.log")}}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// readyz is the replica's /readyz status and body (0 when it does not
// answer).
func (r *replica) readyz() (int, string) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(r.admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startReplicas starts n replicas on c, delivering to s's sinks with an
// AckWait of 4s, and waits until each is ready.
func startReplicas(t *testing.T, c *cluster, s *sinks, n int) []*replica {
	t.Helper()
	var reps []*replica
	for i := range n {
		reps = append(reps, startReplica(t, i+1, c.URL(), "", s.yaml("4s"), s.env))
	}
	for _, r := range reps {
		r.waitReady(60 * time.Second)
	}
	return reps
}

func (r *replica) waitReady(d time.Duration) {
	r.t.Helper()
	var code int
	var body string
	ready := testutil.Poll(d, func() bool {
		if code, body = r.readyz(); code == http.StatusOK {
			return true
		}
		if ex := r.exits(); len(ex) > 0 {
			r.t.Fatalf("%s", ex[len(ex)-1])
		}
		return false
	})
	if !ready {
		r.t.Fatalf("%s not ready after %s: %d %s\n%s", r.name, d, code, body, tail(r.logPath, 20))
	}
}

// scrape reads the replica's successful deliveries (all sinks) from
// /metrics; a replica that does not answer keeps its last figure.
func (r *replica) scrape() {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(r.admin + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "switchyard_deliveries_total{") || !strings.Contains(l, `outcome="delivered"`) {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	r.mu.Lock()
	if sum >= r.last {
		r.last = sum
	}
	r.mu.Unlock()
}

// restart kills the replica with SIGKILL and starts it again at once.
func (r *replica) restart() {
	r.scrape()
	r.kill()
	r.mu.Lock()
	r.banked += r.last
	r.last = 0
	r.mu.Unlock()
	r.start()
}

func (r *replica) delivered() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.banked + r.last
}

// publisher publishes evt-00000… to events.order.completed, retrying each
// until the cluster acks it (the same Nats-Msg-Id: a retry of a publish
// that was stored is a duplicate the stream drops).
type publisher struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	acked   int
	retries int
}

func eventID(i int) string { return fmt.Sprintf("evt-%05d", i) }

// run publishes n events at about rate per second with workers in
// parallel, and returns when all are acked or ctx ends.
func (p *publisher) run(ctx context.Context, n, rate, workers int) error {
	return p.runFrom(ctx, 0, n, rate, workers)
}

// runFrom is run for the ids from, from+1, …
func (p *publisher) runFrom(ctx context.Context, from, n, rate, workers int) error {
	ids := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				m := nats.NewMsg("events.order.completed")
				m.Header.Set("Nats-Msg-Id", eventID(i))
				m.Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
				for ctx.Err() == nil {
					// Short: a publish lost with a dying node is retried
					// sooner (the stream drops the duplicate if it was stored).
					pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := p.js.PublishMsg(pctx, m)
					cancel()
					p.mu.Lock()
					if err == nil {
						p.acked++
					} else {
						p.retries++
					}
					p.mu.Unlock()
					if err == nil {
						break
					}
					select { // a pause before the retry, cut short by the end of the run
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := from; i < from+n && ctx.Err() == nil; i++ {
		select {
		case ids <- i:
		case <-ctx.Done():
		}
		<-tick.C
	}
	close(ids)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func (p *publisher) counts() (acked, retries int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.retries
}

// streamMsgs is how many messages a stream holds (-1: unknown).
func streamMsgs(js jetstream.JetStream, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		return -1
	}
	return int(s.CachedInfo().State.Msgs)
}

// deadLetters is how many messages the DLQ stream holds, asked until the
// cluster answers (-1 if it never does within 30 s): right after the
// faults, one stream info may time out while leaders settle.
func deadLetters(js jetstream.JetStream) int {
	n := -1
	testutil.Poll(30*time.Second, func() bool { n = streamMsgs(js, "DLQ"); return n >= 0 })
	return n
}

// envelopeID is the event id in an EventBridge Detail.
func envelopeID(detail string) string {
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(detail), &env)
	return env.ID
}
