// Package chartcheck renders deploy/helm/switchyard with the Helm SDK, as
// `helm template` would, so CI can decode and check every object without a
// cluster, and so deploy/kubernetes/ is rendered by the same code that checks
// it. It lives in a module of its own: the gateway's go.mod never sees Helm
// or the Kubernetes API types.
package chartcheck

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of the rendered chart.
type Doc struct {
	Template string // e.g. switchyard/templates/deployment.yaml
	YAML     []byte
}

// Release names the release a chart is rendered for.
type Release struct {
	Name, Namespace string
}

// Render renders the chart in chartDir with values (a user's values files,
// merged; nil for the defaults) and returns its documents in a stable order:
// by template, then by position in the template. NOTES.txt is left out.
func Render(chartDir string, rel Release, values map[string]any) ([]Doc, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	if values == nil {
		values = map[string]any{}
	}
	vals, err := chartutil.ToRenderValues(chrt, values,
		chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, IsInstall: true, Revision: 1},
		chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	names := make([]string, 0, len(out))
	for name := range out {
		if path.Ext(name) == ".yaml" || path.Ext(name) == ".yml" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var docs []Doc
	for _, name := range names {
		for _, d := range splitYAML(out[name]) {
			docs = append(docs, Doc{Template: name, YAML: d})
		}
	}
	return docs, nil
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitYAML cuts a template's output into documents and drops the empty ones
// (a disabled template renders to nothing or to comments).
func splitYAML(s string) [][]byte {
	var docs [][]byte
	for _, part := range docSep.Split(s, -1) {
		if hasContent(part) {
			docs = append(docs, []byte(strings.TrimSpace(part)+"\n"))
		}
	}
	return docs
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// ReadValues reads values files and merges them like helm's -f, later files
// winning, maps merged key by key.
func ReadValues(files ...string) (map[string]any, error) {
	merged := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		merged = MergeValues(merged, v)
	}
	return merged, nil
}

// MergeValues merges override into base (base is modified and returned).
func MergeValues(base, override map[string]any) map[string]any {
	for k, v := range override {
		if bm, ok := base[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				base[k] = MergeValues(bm, om)
				continue
			}
		}
		base[k] = v
	}
	return base
}

// kubernetesValues are the values deploy/kubernetes/ is rendered with: the
// chart's defaults, but the Secret is one the operator creates (the plain
// manifests must not carry a token).
var kubernetesValues = map[string]any{
	"secret": map[string]any{"existingSecret": "switchyard"},
}

// PlainManifests renders the files of deploy/kubernetes/: one per template
// and a kustomization.yaml listing them.
func PlainManifests(chartDir string) (map[string][]byte, error) {
	docs, err := Render(chartDir, Release{Name: "switchyard", Namespace: "switchyard"}, MergeValues(map[string]any{}, kubernetesValues))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var order []string
	for _, d := range docs {
		name := path.Base(d.Template)
		if _, seen := files[name]; !seen {
			order = append(order, name)
			files[name] = []byte(header)
		} else {
			files[name] = append(files[name], "---\n"...)
		}
		files[name] = append(files[name], d.YAML...)
	}
	var k bytes.Buffer
	k.WriteString(header)
	k.WriteString("# kubectl create namespace switchyard\n")
	k.WriteString("# kubectl -n switchyard create secret generic switchyard --from-literal=SWITCHYARD_ADMIN_TOKEN=$(openssl rand -hex 32)\n")
	k.WriteString("# kubectl apply -k deploy/kubernetes/\n")
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: switchyard\nresources:\n")
	for _, name := range order {
		fmt.Fprintf(&k, "  - %s\n", name)
	}
	files["kustomization.yaml"] = k.Bytes()
	return files, nil
}

const header = "# Rendered from deploy/helm/switchyard (default values, secret.existingSecret: switchyard)\n" +
	"# by deploy/render.sh. Do not edit: change the chart and run deploy/render.sh; CI checks\n" +
	"# that these files match a fresh render.\n"
