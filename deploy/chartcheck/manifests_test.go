package chartcheck

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestKubernetesManifestsMatchChart: deploy/kubernetes/ is what
// deploy/render.sh renders from the chart now, and decodes strictly.
func TestKubernetesManifestsMatchChart(t *testing.T) {
	want, err := PlainManifests(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	have, err := filepath.Glob("../kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var haveNames []string
	for _, f := range have {
		haveNames = append(haveNames, filepath.Base(f))
	}
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(wantNames)
	if !slices.Equal(haveNames, wantNames) {
		t.Fatalf("deploy/kubernetes holds %v, a fresh render %v: run deploy/render.sh", haveNames, wantNames)
	}
	for _, name := range wantNames {
		got, err := os.ReadFile(filepath.Join("../kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[name]) {
			t.Errorf("deploy/kubernetes/%s differs from a fresh render of the chart: run deploy/render.sh", name)
		}
		for _, d := range splitYAML(string(got)) {
			if _, err := Decode(Doc{Template: name, YAML: d}); err != nil {
				t.Error(err)
			}
		}
	}
}
