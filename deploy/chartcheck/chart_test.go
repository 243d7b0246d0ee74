package chartcheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "../helm/switchyard"

// chartCase is one set of values the chart must render cleanly for.
type chartCase struct {
	name  string
	files []string // values files, relative to this directory
	// env is what an existing Secret would hold, for the validator; nil when
	// the chart creates the Secret (its keys are used then).
	env  map[string]string
	want func(t *testing.T, r *rendered)
}

var chartCases = []chartCase{
	{
		name: "defaults",
		want: func(t *testing.T, r *rendered) {
			if r.hpa != nil || r.serviceMonitor != nil {
				t.Error("HPA and ServiceMonitor must be off by default")
			}
			if r.secret == nil {
				t.Fatal("no Secret: the chart creates one by default")
			}
			if got := r.config["nats"].(map[string]any)["url"]; got != "nats://nats.nats.svc:4222" {
				t.Errorf("nats.url = %v, want the official NATS chart's service", got)
			}
			if r.deploy.Spec.Replicas == nil || *r.deploy.Spec.Replicas < 2 {
				t.Errorf("replicas = %v, want at least 2 by default", r.deploy.Spec.Replicas)
			}
		},
	},
	{
		name:  "external-nats",
		files: []string{"../helm/examples/external-nats.yaml"},
		env: map[string]string{
			"SWITCHYARD_ADMIN_TOKEN": "an-admin-token",
			"BILLING_SECRET_NEW":     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			"BILLING_SECRET_OLD":     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		},
		want: func(t *testing.T, r *rendered) {
			if r.secret != nil {
				t.Error("a Secret was rendered although secret.existingSecret is set")
			}
			nats := r.config["nats"].(map[string]any)
			if !strings.HasPrefix(fmt.Sprint(nats["url"]), "tls://nats-1.internal.example.com:4222,") {
				t.Errorf("nats.url = %v", nats["url"])
			}
			if nats["creds_file"] != "/etc/nats-creds/nats.creds" {
				t.Errorf("nats.creds_file = %v", nats["creds_file"])
			}
			if got := r.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got != 60 {
				t.Errorf("terminationGracePeriodSeconds = %v, want the explicit 60", got)
			}
			for _, c := range r.deploy.Spec.Template.Spec.Containers[0].EnvFrom {
				if c.SecretRef == nil || c.SecretRef.Name != "switchyard-env" {
					t.Errorf("envFrom %+v, want the existing Secret switchyard-env", c)
				}
			}
		},
	},
	{
		name:  "hpa-servicemonitor",
		files: []string{"../helm/examples/autoscaling-monitoring.yaml"},
		want: func(t *testing.T, r *rendered) {
			if r.hpa == nil || r.serviceMonitor == nil {
				t.Fatal("HPA and ServiceMonitor must both render")
			}
			if r.deploy.Spec.Replicas != nil {
				t.Error("Deployment sets replicas although the HPA owns the count")
			}
			if r.pdb.Spec.MinAvailable == nil || r.pdb.Spec.MinAvailable.IntValue() != 2 || r.pdb.Spec.MaxUnavailable != nil {
				t.Errorf("PDB = %+v, want minAvailable 2 only", r.pdb.Spec)
			}
			if r.serviceMonitor.Labels["release"] != "kube-prometheus-stack" {
				t.Errorf("ServiceMonitor labels = %v", r.serviceMonitor.Labels)
			}
		},
	},
}

// rendered is one render, decoded.
type rendered struct {
	objects        []Object
	deploy         *appsv1.Deployment
	configMap      *corev1.ConfigMap
	config         map[string]any // switchyard.yaml, parsed
	configText     string
	secret         *corev1.Secret // nil with secret.existingSecret
	service        *corev1.Service
	pdb            *policyv1.PodDisruptionBudget
	netpol         *networkingv1.NetworkPolicy
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	serviceMonitor *ServiceMonitor
	values         map[string]any // the user values, merged
}

func renderCase(t *testing.T, c chartCase) *rendered {
	t.Helper()
	values, err := ReadValues(c.files...)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Render(chartDir, Release{Name: "sy", Namespace: "switchyard"}, MergeValues(map[string]any{}, values))
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{values: values}
	for _, d := range docs {
		o, err := Decode(d)
		if err != nil {
			t.Fatal(err)
		}
		r.objects = append(r.objects, o)
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			setOnce(t, &r.deploy, v)
		case *corev1.ConfigMap:
			setOnce(t, &r.configMap, v)
		case *corev1.Secret:
			setOnce(t, &r.secret, v)
		case *corev1.Service:
			setOnce(t, &r.service, v)
		case *policyv1.PodDisruptionBudget:
			setOnce(t, &r.pdb, v)
		case *networkingv1.NetworkPolicy:
			setOnce(t, &r.netpol, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			setOnce(t, &r.hpa, v)
		case *ServiceMonitor:
			setOnce(t, &r.serviceMonitor, v)
		default:
			t.Fatalf("%s: %s is not checked by this test", o.Template, o.Kind)
		}
	}
	for name, got := range map[string]bool{"Deployment": r.deploy != nil, "ConfigMap": r.configMap != nil,
		"Service": r.service != nil, "PodDisruptionBudget": r.pdb != nil, "NetworkPolicy": r.netpol != nil} {
		if !got {
			t.Fatalf("no %s rendered", name)
		}
	}
	r.configText = r.configMap.Data["switchyard.yaml"]
	if err := yaml.UnmarshalStrict([]byte(r.configText), &r.config); err != nil {
		t.Fatalf("ConfigMap switchyard.yaml: %v", err)
	}
	return r
}

func setOnce[T any](t *testing.T, dst **T, v *T) {
	t.Helper()
	if *dst != nil {
		t.Fatalf("more than one %T rendered", v)
	}
	*dst = v
}

// TestChartRendersAndDecodes renders each case, decodes every object
// strictly into its API type, and checks what a production deployment
// relies on.
func TestChartRendersAndDecodes(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			r := renderCase(t, c)
			checkPodSecurity(t, r)
			checkProbesAndConfig(t, r)
			checkGrace(t, r)
			checkSecretWiring(t, r)
			checkSelectors(t, r)
			checkMountedFiles(t, r)
			for _, p := range egressProblems(r.netpol, clusterCIDRs(r.values)) {
				t.Errorf("NetworkPolicy: %s", p)
			}
			c.want(t, r)
		})
	}
}

func container(t *testing.T, r *rendered) corev1.Container {
	t.Helper()
	cs := r.deploy.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

func checkPodSecurity(t *testing.T, r *rendered) {
	pod := r.deploy.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it never uses")
	}
	sc := container(t, r).SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container runAsNonRoot not set")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop ALL, add none", sc.Capabilities)
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged container")
	}
}

func checkProbesAndConfig(t *testing.T, r *rendered) {
	c := container(t, r)
	if want := []string{"run", "--config", "/etc/switchyard/switchyard.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("args = %q, want %q", c.Args, want)
	}
	var adminPort int32
	for _, p := range c.Ports {
		if p.Name == "admin" {
			adminPort = p.ContainerPort
		}
	}
	if adminPort == 0 {
		t.Fatal("no container port named admin")
	}
	admin := r.config["admin"].(map[string]any)
	if admin["listen"] != fmt.Sprintf(":%d", adminPort) {
		t.Errorf("admin.listen = %v, container port %d", admin["listen"], adminPort)
	}
	if admin["token"] != "${SWITCHYARD_ADMIN_TOKEN}" {
		t.Errorf("admin.token = %v: a non-loopback admin listener needs the token", admin["token"])
	}
	for name, tc := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}, "startup": {c.StartupProbe, "/healthz"}} {
		p := tc.probe
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", name, tc.path)
			continue
		}
		if p.HTTPGet.Path != tc.path || (p.HTTPGet.Port.String() != "admin" && p.HTTPGet.Port.IntValue() != int(adminPort)) {
			t.Errorf("%s probe GETs %s on %s, want %s on the admin port", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), tc.path)
		}
	}
	if fmt.Sprint(r.config["stream"].(map[string]any)["replicas"]) != "3" {
		t.Errorf("stream.replicas = %v, want 3 (R3)", r.config["stream"].(map[string]any)["replicas"])
	}
	if u, _ := r.config["nats"].(map[string]any)["url"].(string); u == "" {
		t.Error("nats.url empty: the replicas would each embed a server")
	}
	var mounted bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/switchyard" {
			for _, v := range r.deploy.Spec.Template.Spec.Volumes {
				mounted = mounted || (v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == r.configMap.Name)
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /etc/switchyard", r.configMap.Name)
	}
}

// checkGrace: the kubelet's SIGKILL must come after shutdown_grace, or the
// drain is cut short.
func checkGrace(t *testing.T, r *rendered) {
	d, err := time.ParseDuration(fmt.Sprint(r.config["shutdown_grace"]))
	if err != nil {
		t.Fatalf("shutdown_grace: %v", err)
	}
	g := r.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil || time.Duration(*g)*time.Second <= d {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than shutdown_grace %s", g, d)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// checkSecretWiring: the token and every ${VAR} of the config reach the pod.
func checkSecretWiring(t *testing.T, r *rendered) {
	c := container(t, r)
	var tokenRef *corev1.SecretKeySelector
	for _, e := range c.Env {
		if e.Name == "SWITCHYARD_ADMIN_TOKEN" && e.ValueFrom != nil {
			tokenRef = e.ValueFrom.SecretKeyRef
		}
	}
	if tokenRef == nil {
		t.Fatal("SWITCHYARD_ADMIN_TOKEN does not come from a Secret")
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != tokenRef.Name {
		t.Errorf("envFrom %+v: want the token's Secret %s", c.EnvFrom, tokenRef.Name)
	}
	if r.serviceMonitor != nil {
		for _, ep := range r.serviceMonitor.Spec.Endpoints {
			if ep.Authorization == nil || ep.Authorization.Type != "Bearer" || ep.Authorization.Credentials == nil ||
				ep.Authorization.Credentials.Name != tokenRef.Name || ep.Authorization.Credentials.Key != tokenRef.Key {
				t.Errorf("ServiceMonitor endpoint %s: authorization %+v, want Bearer from %s/%s", ep.Port, ep.Authorization, tokenRef.Name, tokenRef.Key)
			}
			if ep.Path != "/metrics" {
				t.Errorf("ServiceMonitor scrapes %s, want /metrics", ep.Path)
			}
		}
	}
	if r.secret == nil {
		return // an existing Secret: its keys are the operator's
	}
	if r.secret.Name != tokenRef.Name {
		t.Errorf("Secret %s rendered, pods read %s", r.secret.Name, tokenRef.Name)
	}
	if len(r.secret.Data[tokenRef.Key]) < 16 {
		t.Errorf("admin token %q is missing or short", tokenRef.Key)
	}
	provided := map[string]bool{}
	for k := range r.secret.Data {
		provided[k] = true
	}
	for _, e := range c.Env {
		provided[e.Name] = true
	}
	// config.Load expands ${VAR} in values only, never in comments.
	var values strings.Builder
	for _, line := range strings.Split(r.configText, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			values.WriteString(line + "\n")
		}
	}
	for _, m := range envRef.FindAllStringSubmatch(values.String(), -1) {
		if m[2] == "" && !provided[m[1]] {
			t.Errorf("the config needs ${%s}, which neither the Secret nor env provides", m[1])
		}
	}
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkSelectors: the Service, PDB, NetworkPolicy, HPA and ServiceMonitor
// all point at these pods.
func checkSelectors(t *testing.T, r *rendered) {
	pods := r.deploy.Spec.Template.Labels
	if !matches(r.deploy.Spec.Selector.MatchLabels, pods) {
		t.Error("Deployment selector does not match its pods")
	}
	if !matches(r.service.Spec.Selector, pods) {
		t.Error("Service selector does not match the pods")
	}
	var servesAdmin bool
	for _, p := range r.service.Spec.Ports {
		servesAdmin = servesAdmin || (p.Name == "admin" && p.TargetPort.String() == "admin")
	}
	if !servesAdmin {
		t.Error("Service has no admin port")
	}
	if !matches(r.pdb.Spec.Selector.MatchLabels, pods) {
		t.Error("PodDisruptionBudget selector does not match the pods")
	}
	if (r.pdb.Spec.MinAvailable == nil) == (r.pdb.Spec.MaxUnavailable == nil) {
		t.Error("PodDisruptionBudget: want exactly one of minAvailable, maxUnavailable")
	}
	if !matches(r.netpol.Spec.PodSelector.MatchLabels, pods) {
		t.Error("NetworkPolicy does not select the pods")
	}
	if r.hpa != nil {
		ref := r.hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != r.deploy.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA scales %+v, want Deployment %s", ref, r.deploy.Name)
		}
		if r.hpa.Spec.MinReplicas == nil || *r.hpa.Spec.MinReplicas < 2 || *r.hpa.Spec.MinReplicas > r.hpa.Spec.MaxReplicas {
			t.Errorf("HPA min %v max %d", r.hpa.Spec.MinReplicas, r.hpa.Spec.MaxReplicas)
		}
	}
	if r.serviceMonitor != nil {
		if !matches(r.serviceMonitor.Spec.Selector.MatchLabels, r.service.Labels) {
			t.Error("ServiceMonitor does not select the Service")
		}
		for _, ep := range r.serviceMonitor.Spec.Endpoints {
			if !slices.ContainsFunc(r.service.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
				t.Errorf("ServiceMonitor port %q is not a Service port", ep.Port)
			}
		}
	}
}

// configFiles lists the file paths the config names (they must exist in the
// pod, and `switchyard validate` stats them).
func configFiles(cfg map[string]any) []string {
	nats, _ := cfg["nats"].(map[string]any)
	var files []string
	for _, k := range []string{"creds_file", "nkey_seed_file"} {
		if f, _ := nats[k].(string); f != "" {
			files = append(files, f)
		}
	}
	tls, _ := nats["tls"].(map[string]any)
	for _, k := range []string{"ca_file", "cert_file", "key_file"} {
		if f, _ := tls[k].(string); f != "" {
			files = append(files, f)
		}
	}
	return files
}

// checkMountedFiles: every file the config names is under a Secret mount.
func checkMountedFiles(t *testing.T, r *rendered) {
	pod := r.deploy.Spec.Template.Spec
	for _, f := range configFiles(r.config) {
		var ok bool
		for _, m := range pod.Containers[0].VolumeMounts {
			if !strings.HasPrefix(f, strings.TrimSuffix(m.MountPath, "/")+"/") {
				continue
			}
			for _, v := range pod.Volumes {
				ok = ok || (v.Name == m.Name && v.Secret != nil)
			}
		}
		if !ok {
			t.Errorf("the config names %s, which is not in a mounted Secret", f)
		}
	}
}

// clusterCIDRs are the case's networkPolicy.webhooks.clusterCIDRs.
func clusterCIDRs(values map[string]any) []string {
	np, _ := values["networkPolicy"].(map[string]any)
	wh, _ := np["webhooks"].(map[string]any)
	list, _ := wh["clusterCIDRs"].([]any)
	var out []string
	for _, c := range list {
		out = append(out, fmt.Sprint(c))
	}
	return out
}
