// Package emulators starts the cloud emulators the tests run against, on
// loopback ports, and stops them when the test ends.
package emulators

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// startGroup runs cmd in its own process group and kills the whole group
// at cleanup: emulators leave children (moto's reloader, the JVM).
func startGroup(t testing.TB, cmd *exec.Cmd, logName string) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), logName))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("%s log (tail):\n%s", logName, tail(string(b), 30))
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func waitHTTP(t testing.TB, url string, d time.Duration) {
	t.Helper()
	var err error
	if !testutil.Poll(d, func() bool {
		var resp *http.Response
		if resp, err = http.Get(url); err == nil {
			resp.Body.Close()
		}
		return err == nil
	}) {
		t.Fatalf("%s not up after %s: %v", url, d, err)
	}
}

// Moto starts moto's server (EventBridge, SQS, SNS) and returns its
// endpoint. It skips the test when moto_server is not installed.
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not on PATH (it ships in the machine image's Python)")
	}
	port := testutil.FreePort(t)
	startGroup(t, exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port)), "moto.log")
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, endpoint+"/moto-api/", 30*time.Second)
	return endpoint
}

// PubSubEmulator starts the gcloud Pub/Sub emulator (Java) and returns its
// host:port for PUBSUB_EMULATOR_HOST. It skips the test when the emulator
// is not installed.
func PubSubEmulator(t testing.TB) string {
	t.Helper()
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not on PATH")
	}
	root := sdkRoot(gcloud)
	launcher := filepath.Join(root, "platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator")
	if _, err := os.Stat(launcher); err != nil {
		t.Skipf("pubsub emulator not installed at %s", launcher)
	}
	port := testutil.FreePort(t)
	cmd := exec.Command(launcher, "--host=127.0.0.1", fmt.Sprintf("--port=%d", port))
	cmd.Dir = t.TempDir()
	startGroup(t, cmd, "pubsub-emulator.log")
	host := fmt.Sprintf("127.0.0.1:%d", port)
	waitHTTP(t, "http://"+host+"/", 60*time.Second)
	return host
}

// sdkRoot finds the Cloud SDK root from the gcloud on PATH, which is
// usually a symlink into it.
func sdkRoot(gcloud string) string {
	if real, err := filepath.EvalSymlinks(gcloud); err == nil {
		gcloud = real
	}
	return filepath.Dir(filepath.Dir(gcloud))
}
