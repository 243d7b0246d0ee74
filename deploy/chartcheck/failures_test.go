package chartcheck

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestChartRefuses: values that would deploy something broken fail the
// render with a message that says what to do.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   string
	}{
		{"grace not longer than shutdown_grace", "terminationGracePeriodSeconds: 25", "must be longer than shutdownGraceSeconds"},
		{"grace shorter than a raised shutdown_grace", "shutdownGraceSeconds: 90\nterminationGracePeriodSeconds: 60", "must be longer than shutdownGraceSeconds"},
		{"shutdown_grace in config", "config: {shutdown_grace: 10s}", "set shutdownGraceSeconds"},
		{"no NATS URL", "nats: {url: \"\"}", "nats.url is required"},
		{"NATS URL in config", "config: {nats: {url: nats://x:4222}}", "config.nats.url is set by the chart"},
		{"embedded server in config", "config: {nats: {embedded: {listen: 0.0.0.0:4222}}}", "config.nats.embedded is set by the chart"},
		{"admin token in config", "config: {admin: {token: plain}}", "config.admin.token is set by the chart"},
		{"PDB without a bound", "podDisruptionBudget: {maxUnavailable: null}", "set minAvailable or maxUnavailable"},
		{"half a client certificate", "nats: {tlsSecret: {name: ca, certKey: tls.crt}}", "set both certKey and keyKey"},
		{"bad env name", "secret: {env: {bad-name: x}}", "is not an environment variable name"},
		{"HPA min above max", "autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 3}", "minReplicas is above maxReplicas"},
		{"misspelt value", "shutdownGrace: 30", "shutdownGrace"},
		{"grace as a duration", "shutdownGraceSeconds: 25s", "shutdownGraceSeconds"},
		{"misspelt nested value", "networkPolicy: {webhooks: {clusterCIDR: [198.18.0.0/15]}}", "clusterCIDR"},
		{"IPv6 except", "networkPolicy: {webhooks: {clusterCIDRs: [\"fd00::/8\"]}}", "is IPv6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := parseValues(tt.values)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Render(chartDir, Release{Name: "sy", Namespace: "switchyard"}, values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// parseValues reads values given as YAML text.
func parseValues(s string) (map[string]any, error) {
	var v map[string]any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}
