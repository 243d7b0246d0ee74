package scale

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// gateway is `switchyard run` as a child process, so that its memory and
// CPU are its own: embedded JetStream in a temporary store, the admin API
// on a loopback port behind a fresh token.
type gateway struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	admin   string // http://127.0.0.1:port
	natsURL string
	token   string
	client  *http.Client
	exited  chan struct{}
}

// gatewayConfig is the generated configuration: no sinks of its own;
// API sinks may reach private networks, because the receiver is on
// 127.0.0.1.
const gatewayConfig = `nats:
  embedded: {listen: "127.0.0.1:%d", store_dir: %q}
admin: {listen: "127.0.0.1:%d", token: %q}
api: {allow: [private_networks]}
log: {level: warn}
`

// startGateway runs binary as the gateway and waits for its /readyz.
func startGateway(ctx context.Context, binary string, clients int) (*gateway, error) {
	dir, err := os.MkdirTemp("", "switchyard-scale-")
	if err != nil {
		return nil, err
	}
	g := &gateway{dir: dir, logPath: filepath.Join(dir, "switchyard.log"), exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			g.stop()
		}
	}()
	natsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	g.token = hex.EncodeToString(tok)
	g.admin = "http://127.0.0.1:" + strconv.Itoa(adminPort)
	g.natsURL = "nats://127.0.0.1:" + strconv.Itoa(natsPort)
	g.client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: clients + 4, MaxIdleConnsPerHost: clients + 4, IdleConnTimeout: time.Minute}}
	cfgPath := filepath.Join(dir, "switchyard.yaml")
	cfg := fmt.Sprintf(gatewayConfig, natsPort, filepath.Join(dir, "js"), adminPort, g.token)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logs, err := os.Create(g.logPath)
	if err != nil {
		return nil, err
	}
	defer logs.Close() // the child has its own descriptor
	g.cmd = exec.Command(binary, "run", "--config", cfgPath)
	g.cmd.Stdout, g.cmd.Stderr = logs, logs
	g.cmd.SysProcAttr = childAttr()
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the gateway: %w", err)
	}
	go func() { _ = g.cmd.Wait(); close(g.exited) }()
	if err := g.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	ok = true
	return g, nil
}

func (g *gateway) pid() int { return g.cmd.Process.Pid }

// waitReady polls /readyz until it answers 200, the child exits, or the
// deadline passes.
func (g *gateway) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			return fmt.Errorf("the gateway exited before it was ready:\n%s", g.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := g.client.Get(g.admin + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = resp.Status
	}
	return fmt.Errorf("the gateway was not ready within %s (last: %s):\n%s", within, last, g.logTail(20))
}

// do sends one admin API request with the token and returns the status
// and the body (at most 4 MiB: a page of sinks).
func (g *gateway) do(ctx context.Context, method, path, body string) (int, []byte, error) {
	code, b, _, err := g.doHeader(ctx, method, path, body)
	return code, b, err
}

// doHeader is do that also returns the answer's headers.
func (g *gateway) doHeader(ctx context.Context, method, path, body string) (int, []byte, http.Header, error) {
	resp, err := g.send(ctx, method, path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, resp.Header, err
}

// send sends one admin API request with the token (and body, as JSON,
// when not empty); the caller closes the answer's body.
func (g *gateway) send(ctx context.Context, method, path, body string) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.admin+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return g.client.Do(req)
}

// goroutines reads the child's goroutine count from its profiler (behind
// the admin token); -1 when it cannot.
func (g *gateway) goroutines(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := g.send(ctx, http.MethodGet, "/debug/pprof/goroutine?debug=1", "")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	// "goroutine profile: total 1234"
	n, err := strconv.Atoi(strings.TrimSpace(line[strings.LastIndexByte(line, ' ')+1:]))
	if err != nil {
		return -1
	}
	return n
}

// heapMB reads the child's live heap after a collection (HeapAlloc of
// /debug/pprof/heap?gc=1&debug=1, behind the admin token); -1 when it
// cannot.
func (g *gateway) heapMB(ctx context.Context) float64 {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := g.send(ctx, http.MethodGet, "/debug/pprof/heap?gc=1&debug=1", "")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return mb(n)
		}
	}
	return -1
}

// saveHeap writes the child's heap profile (after a collection) to path:
// go tool pprof -sample_index=inuse_space -diff_base A B shows what grew.
func (g *gateway) saveHeap(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := g.send(ctx, http.MethodGet, "/debug/pprof/heap?gc=1", "")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// consumers counts the JetStream consumers of the gateway's account
// through its embedded NATS; -1 when it cannot.
func (g *gateway) consumers(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(g.natsURL, nats.Name("switchyard scale"))
	if err != nil {
		return -1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		return -1
	}
	return info.Consumers
}

// logTail is the end of the child's log, for an error message.
func (g *gateway) logTail(n int) string {
	b, _ := os.ReadFile(g.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop kills the child (a graceful stop of thousands of consumers takes
// minutes, and its store is thrown away) and removes its directory.
func (g *gateway) stop() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Kill()
		select {
		case <-g.exited:
		case <-time.After(30 * time.Second):
		}
	}
	if g.client != nil {
		g.client.CloseIdleConnections()
	}
	_ = os.RemoveAll(g.dir)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
