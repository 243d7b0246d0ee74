package chartcheck

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded document.
type Object struct {
	Template string
	Kind     string // apiVersion + " " + kind, e.g. "apps/v1 Deployment"
	Name     string
	Value    any // *appsv1.Deployment, *corev1.Service, …, *ServiceMonitor
}

// kinds are the only objects the chart may render, each with the type it is
// decoded into. Anything else is an error: a typo in apiVersion or kind
// would otherwise pass unchecked.
var kinds = map[string]func() any{
	"apps/v1 Deployment":                            func() any { return &appsv1.Deployment{} },
	"v1 ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                                     func() any { return &corev1.Secret{} },
	"v1 Service":                                    func() any { return &corev1.Service{} },
	"policy/v1 PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2 HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1 NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1 ServiceMonitor":       func() any { return &ServiceMonitor{} },
	"kustomize.config.k8s.io/v1beta1 Kustomization": func() any { return &Kustomization{} },
}

// Decode decodes one document strictly into its API type: an unknown or
// misplaced field, a duplicate key or a wrong value type is an error.
func Decode(d Doc) (Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(d.YAML, &tm); err != nil {
		return Object{}, fmt.Errorf("%s: %w", d.Template, err)
	}
	key := tm.APIVersion + " " + tm.Kind
	newObj, ok := kinds[key]
	if !ok {
		return Object{}, fmt.Errorf("%s: unexpected object %q", d.Template, key)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(d.YAML, obj); err != nil {
		return Object{}, fmt.Errorf("%s: %s: %w", d.Template, key, err)
	}
	var meta struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(d.YAML, &meta)
	if meta.Metadata.Name == "" && tm.Kind != "Kustomization" {
		return Object{}, fmt.Errorf("%s: %s without metadata.name", d.Template, key)
	}
	return Object{Template: d.Template, Kind: key, Name: meta.Metadata.Name, Value: obj}, nil
}

// ServiceMonitor is the part of the Prometheus Operator's CRD
// (monitoring.coreos.com/v1) the chart uses. Decoded strictly, a field the
// chart writes and this struct lacks fails: add it here only after checking
// the CRD's schema.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			Authorization *struct {
				Type        string                    `json:"type"`
				Credentials *corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// Kustomization is deploy/kubernetes/kustomization.yaml's shape.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}
