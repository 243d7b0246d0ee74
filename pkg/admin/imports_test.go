package admin_test

import (
	"go/build"
	"strings"
	"testing"
)

// The admin package sits below the gateway and beside the console: it
// serves the pages it is given (Options.Pages) and never reaches up for
// them, directly or through another package.
func TestAdminImportsNeitherConsoleNorGateway(t *testing.T) {
	const module = "github.com/switchyard-dev/switchyard/"
	forbidden := map[string]bool{module + "pkg/console": true, module + "pkg/gateway": true}
	seen := map[string]bool{}
	var walk func(path string, via []string)
	walk = func(path string, via []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.Default.Import(path, ".", 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			chain := append(append([]string(nil), via...), imp)
			if forbidden[imp] {
				t.Errorf("pkg/admin imports %s (%s)", imp, strings.Join(chain, " → "))
				continue
			}
			walk(imp, chain)
		}
	}
	walk(module+"pkg/admin", []string{module + "pkg/admin"})
}
