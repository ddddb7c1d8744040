package plan

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// IsMux reports whether svc carries the multiplexer annotation (exactly "true").
// Whether it is a valid mux is MuxProblem's question.
func IsMux(svc *corev1.Service, keys api.Keys) bool {
	return svc != nil && svc.Annotations[keys.Multiplexer] == "true"
}

// MuxProblem returns why an annotated mux cannot be reconciled, or nil.
func MuxProblem(svc *corev1.Service) *rejection {
	ref := svc.Namespace + "/" + svc.Name
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return &rejection{reason: api.ReasonNotLoadBalancer,
			message: fmt.Sprintf("mux %s has type %q; a multiplexer Service must be of type LoadBalancer", ref, svc.Spec.Type)}
	}
	if len(svc.Spec.Selector) > 0 {
		return &rejection{reason: api.ReasonNotSupported,
			message: fmt.Sprintf("mux %s has a selector; a multiplexer Service must not select pods (remove spec.selector)", ref)}
	}
	return nil
}

// IsGKE reports whether the mux is backed by GKE's L4 load balancer (SPEC §3).
func IsGKE(svc *corev1.Service) bool {
	if svc.Spec.LoadBalancerClass != nil && strings.HasPrefix(*svc.Spec.LoadBalancerClass, api.GKEClassPrefix) {
		return true
	}
	for _, k := range api.GKEAnnotations {
		if _, ok := svc.Annotations[k]; ok {
			return true
		}
	}
	return false
}

// ParseMaxPorts reads <prefix>/max-ports: whitespace trimmed, empty = unset (0), else an integer >= 1.
func ParseMaxPorts(value, key string) (int, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("invalid %s value %q; expected an integer >= 1", key, value)
	}
	return n, nil
}

// IsAWSNLB reports whether the mux is backed by an AWS Network Load Balancer (SPEC §10):
// class service.k8s.aws/nlb, or aws-load-balancer-type nlb or external (trimmed).
func IsAWSNLB(svc *corev1.Service) bool {
	if svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass == api.AWSNLBClass {
		return true
	}
	v, ok := svc.Annotations[api.AWSLoadBalancerTypeAnnotation]
	if !ok {
		return false
	}
	v = strings.TrimSpace(v)
	for _, t := range api.AWSNLBLoadBalancerTypes {
		if v == t {
			return true
		}
	}
	return false
}

// providerCap is a cloud load balancer's hard port limit and how the notice names it.
type providerCap struct {
	reason string
	max    int
	what   string // "a GKE LoadBalancer mux"
	limit  string // "the GKE Service LoadBalancer limit of %d ports"
}

// providerCapOf is the cap of the mux's provider, nil for none. A mux marked for
// both providers (a mistake) takes the smaller cap, AWS's.
func providerCapOf(svc *corev1.Service) *providerCap {
	switch {
	case IsAWSNLB(svc):
		return &providerCap{reason: api.ReasonAwsNlbPortLimitApplied, max: api.AWSNLBMaxPorts,
			what: "an AWS NLB mux", limit: "the AWS NLB limit of %d listeners (one per port and protocol)"}
	case IsGKE(svc):
		return &providerCap{reason: api.ReasonGkePortLimitApplied, max: api.GKEMaxPorts,
			what: "a GKE LoadBalancer mux", limit: "the GKE Service LoadBalancer limit of %d ports"}
	}
	return nil
}

// portLimit is the effective limit (0 = none) and, when a provider cap applies in
// place of max-ports, the Warning's reason and message.
func portLimit(svc *corev1.Service, keys api.Keys) (limit int, reason, notice string, err error) {
	limit, err = ParseMaxPorts(svc.Annotations[keys.MaxPorts], keys.MaxPorts)
	pc := providerCapOf(svc)
	if err != nil || pc == nil {
		return limit, "", "", err
	}
	capText := fmt.Sprintf(pc.limit, pc.max)
	switch {
	case limit == 0:
		notice = fmt.Sprintf("Detected %s without %s; applying %s", pc.what, keys.MaxPorts, capText)
	case limit > pc.max:
		notice = fmt.Sprintf("Detected %s with %s=%d; using %s", pc.what, keys.MaxPorts, limit, capText)
	default:
		return limit, "", "", nil
	}
	return pc.max, pc.reason, notice, nil
}

// readState decodes and validates the mux's state ConfigMap. A missing ConfigMap is
// empty, readable state; an invalid or foreign one is unreadable and never written.
func readState(cm *corev1.ConfigMap, mux *corev1.Service, keys api.Keys, cache *state.Cache) (state.Document, error) {
	if cm == nil {
		return state.Document{}, nil
	}
	ref := api.MuxRef{Namespace: mux.Namespace, Name: mux.Name}
	decode := func(raw string) (state.Document, error) { return state.Decode(raw) }
	if cache != nil {
		decode = func(raw string) (state.Document, error) { return cache.Decode(cm.Namespace+"/"+cm.Name, raw) }
	}
	doc, err := decode(cm.Data[api.StateKey])
	if err != nil {
		return state.Document{}, fmt.Errorf("mux state ConfigMap %s/%s: %v; fix it or run kubectl svcmux repair", cm.Namespace, cm.Name, err)
	}
	if err := state.ValidateOwner(cm.Namespace, cm.Name, cm.Annotations[keys.Mux], doc, ref); err != nil {
		return state.Document{}, err
	}
	return doc, nil
}

// StateConfigMapName is the name of mux's state ConfigMap.
func StateConfigMapName(mux *corev1.Service, keys api.Keys) string {
	return state.ConfigMapName(mux.Name, mux.Annotations[keys.AllocationConfigMap])
}

// placeholderPorts is the mux spec.ports when no channel port is served.
func placeholderPorts() []corev1.ServicePort {
	return []corev1.ServicePort{{Name: api.PlaceholderPortName, Port: api.PlaceholderPort, Protocol: corev1.ProtocolTCP}}
}

// keyOf is the (port, protocol) of a ServicePort, TCP when unset.
func keyOf(sp corev1.ServicePort) ports.Key { return ports.NewKey(sp.Port, sp.Protocol) }
