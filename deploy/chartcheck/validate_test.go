package chartcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// switchyardBin is the gateway's binary: $SWITCHYARD_BIN (CI builds it once),
// or built here from the repository root.
func switchyardBin(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SWITCHYARD_BIN"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chartcheck-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "switchyard")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/switchyard")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{out: string(out), err: err}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string {
	return "go build ./cmd/switchyard: " + e.err.Error() + "\n" + e.out
}

// TestRenderedConfigValidates runs `switchyard validate` on the config each
// case renders, with the env the pod would have and the mounted files in
// place: the chart must never render a config the gateway refuses at start.
func TestRenderedConfigValidates(t *testing.T) {
	bin := switchyardBin(t)
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderCase(t, c)
			root := t.TempDir()
			text := r.configText
			// The pod's mounted Secret files, under a temporary root.
			for _, f := range configFiles(r.config) {
				local := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(local, []byte("placeholder\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				text = strings.ReplaceAll(text, f, local)
			}
			path := filepath.Join(root, "switchyard.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
			if c.env != nil {
				for k, v := range c.env {
					env = append(env, k+"="+v)
				}
			} else {
				for k, v := range r.secret.Data {
					env = append(env, k+"="+string(v))
				}
			}
			cmd := exec.Command(bin, "validate", "--config", path)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("switchyard validate refused the rendered config: %v\n%s\n--- config ---\n%s", err, out, text)
			}
			if !strings.Contains(string(out), ": ok (") {
				t.Errorf("validate said %q", out)
			}
		})
	}
}

// TestValidatorRejects keeps TestRenderedConfigValidates honest: the same
// run fails when the env lacks the admin token the config needs.
func TestValidatorRejects(t *testing.T) {
	bin := switchyardBin(t)
	r := renderCase(t, chartCases[0])
	path := filepath.Join(t.TempDir(), "switchyard.yaml")
	if err := os.WriteFile(path, []byte(r.configText), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", path)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "SWITCHYARD_ADMIN_TOKEN") {
		t.Errorf("validate without the token: err %v, output %q; want a refusal naming SWITCHYARD_ADMIN_TOKEN", err, out)
	}
}
