package chartcheck

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// privateRanges must never be reachable by webhooks: RFC 1918, link-local
// (cloud metadata), loopback, and their IPv6 counterparts.
var privateRanges = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
	"fc00::/7", "fe80::/10", "::1/128"}

// infraPorts are the only ports a rule may open toward a private range or
// toward selected pods: DNS and NATS clients.
var infraPorts = map[string]bool{"53": true, "4222": true}

// egressProblems checks that the policy keeps webhooks off the cluster
// network: every rule names its destinations; a rule that reaches pods or a
// private or cluster range is limited to DNS and NATS ports.
func egressProblems(np *networkingv1.NetworkPolicy, cluster []string) []string {
	var problems []string
	hasEgress := false
	for _, pt := range np.Spec.PolicyTypes {
		hasEgress = hasEgress || pt == networkingv1.PolicyTypeEgress
	}
	if !hasEgress {
		return []string{"policyTypes lacks Egress: egress is not restricted at all"}
	}
	forbidden := append(append([]string{}, privateRanges...), cluster...)
	for i, rule := range np.Spec.Egress {
		infraOnly := len(rule.Ports) > 0
		for _, p := range rule.Ports {
			if p.Port == nil || !infraPorts[p.Port.String()] || p.EndPort != nil {
				infraOnly = false
			}
		}
		if len(rule.To) == 0 {
			problems = append(problems, fmt.Sprintf("egress[%d] has no 'to': it allows every destination", i))
			continue
		}
		for _, peer := range rule.To {
			if peer.IPBlock == nil {
				if !infraOnly {
					problems = append(problems, fmt.Sprintf("egress[%d] reaches pods on ports other than DNS and NATS", i))
				}
				continue
			}
			cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
			if err != nil {
				problems = append(problems, fmt.Sprintf("egress[%d]: %v", i, err))
				continue
			}
			var except []netip.Prefix
			for _, e := range peer.IPBlock.Except {
				p, err := netip.ParsePrefix(e)
				if err != nil || !cidr.Contains(p.Addr()) || p.Bits() < cidr.Bits() {
					problems = append(problems, fmt.Sprintf("egress[%d]: except %q is not inside %s", i, e, cidr))
					continue
				}
				except = append(except, p)
			}
			for _, f := range forbidden {
				fp := netip.MustParsePrefix(f)
				if !cidr.Overlaps(fp) || covered(fp, except) || infraOnly {
					continue
				}
				problems = append(problems, fmt.Sprintf("egress[%d]: %s reaches %s", i, cidr, fp))
			}
		}
	}
	return problems
}

// covered reports whether one of except holds all of p.
func covered(p netip.Prefix, except []netip.Prefix) bool {
	for _, e := range except {
		if e.Bits() <= p.Bits() && e.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// TestEgressProblems shows the checker fails the policies it must fail:
// without these, TestChartRendersAndDecodes's NetworkPolicy check could pass
// whatever the chart rendered.
func TestEgressProblems(t *testing.T) {
	const head = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n"
	const allPrivate = "[10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 127.0.0.0/8]"
	tests := []struct {
		name    string
		egress  string
		cluster []string
		want    string // substring of a problem; "" for none
	}{
		{"public minus private", "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: " + allPrivate + "}}]\n    ports: [{port: 443}]\n", nil, ""},
		{"public on every port", "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: " + allPrivate + "}}]\n", nil, ""},
		{"no except", "  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n    ports: [{port: 443}]\n", nil, "reaches 10.0.0.0/8"},
		{"metadata endpoint open", "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8]}}]\n", nil, "reaches 169.254.0.0/16"},
		{"cluster CIDR open", "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: " + allPrivate + "}}]\n", []string{"198.18.0.0/16"}, "reaches 198.18.0.0/16"},
		{"cluster CIDR excepted", "  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 127.0.0.0/8, 198.18.0.0/15]}}]\n", []string{"198.18.0.0/16"}, ""},
		{"no to", "  - ports: [{port: 443}]\n", nil, "allows every destination"},
		{"pods on any port", "  - to: [{namespaceSelector: {}}]\n", nil, "reaches pods"},
		{"pods on 443", "  - to: [{podSelector: {}}]\n    ports: [{port: 443}]\n", nil, "reaches pods"},
		{"NATS pods", "  - to: [{podSelector: {}}]\n    ports: [{port: 4222}]\n", nil, ""},
		{"private NATS subnet", "  - to: [{ipBlock: {cidr: 10.20.0.0/24}}]\n    ports: [{port: 4222}]\n", nil, ""},
		{"private subnet on 443", "  - to: [{ipBlock: {cidr: 10.20.0.0/24}}]\n    ports: [{port: 443}]\n", nil, "reaches 10.0.0.0/8"},
		{"IPv6 without except", "  - to: [{ipBlock: {cidr: \"::/0\"}}]\n", nil, "reaches fc00::/7"},
		{"except outside cidr", "  - to: [{ipBlock: {cidr: 8.0.0.0/8, except: [10.0.0.0/8]}}]\n", nil, "not inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var np networkingv1.NetworkPolicy
			if err := yaml.UnmarshalStrict([]byte(head+tt.egress), &np); err != nil {
				t.Fatal(err)
			}
			problems := egressProblems(&np, tt.cluster)
			joined := strings.Join(problems, "; ")
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("unexpected problems: %s", joined)
			case tt.want != "" && !strings.Contains(joined, tt.want):
				t.Errorf("problems %q, want one containing %q", joined, tt.want)
			}
		})
	}
	t.Run("ingress only", func(t *testing.T) {
		np := networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
		if len(egressProblems(&np, nil)) == 0 {
			t.Error("a policy without Egress passed")
		}
	})
}
