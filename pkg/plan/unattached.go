package plan

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// ChannelMux resolves which mux a Service is a channel of. ok is false when svc is
// not a channel at all (not a LoadBalancer, or a class that is not svcmux's); err is
// set for a svcmux class that does not parse.
func ChannelMux(svc *corev1.Service, keys api.Keys, defaultNamespace string) (ref api.MuxRef, ok bool, err error) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.LoadBalancerClass == nil ||
		!keys.IsChannelClass(*svc.Spec.LoadBalancerClass) {
		return api.MuxRef{}, false, nil
	}
	ref, err = keys.ParseClass(*svc.Spec.LoadBalancerClass, defaultNamespace)
	return ref, true, err
}

// HasLeftovers reports whether svc carries anything svcmux writes on a channel.
func HasLeftovers(svc *corev1.Service, keys api.Keys) bool {
	if _, ok := svc.Annotations[keys.Ports]; ok {
		return true
	}
	for _, c := range svc.Status.Conditions {
		if c.Type == keys.AcceptedCondition {
			return true
		}
	}
	return false
}

// Unattached plans a Service that no valid mux pass covers: a channel whose class
// does not parse, a channel naming a mux that does not exist, or a former channel
// that still carries svcmux's annotation, ingress or condition. muxFound says
// whether the named mux exists as an annotated mux Service.
func Unattached(svc *corev1.Service, opts Options, muxFound bool) (ChannelOutcome, []Event) {
	keys := opts.Keys
	ref := ObjectRef{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}
	out := ChannelOutcome{Channel: ref}
	mux, isChannel, err := ChannelMux(svc, keys, opts.DefaultMuxNamespace)
	p := &pass{opts: opts, keys: keys}
	var why *rejection
	switch {
	case !isChannel:
		// Detached: svcmux's annotation, ingress and condition go; ingress only
		// while our leftovers show it was ours to clear.
		if !HasLeftovers(svc, keys) {
			out.Ingress = copyIngress(svc.Status.LoadBalancer.Ingress)
		}
		return out, nil
	case err != nil:
		why = &rejection{reason: api.ReasonInvalidLoadBalancerClass, message: fmt.Sprintf("channel %s: %v", ref, err)}
	case !muxFound:
		why = &rejection{reason: api.ReasonMuxNotFound, message: fmt.Sprintf(
			"channel %s names mux %s, which does not exist or lacks %s: \"true\"; create the mux or fix spec.loadBalancerClass",
			ref, mux, keys.Multiplexer)}
	default:
		return out, nil
	}
	out.Reason, out.Message = why.reason, why.message
	out.Condition = p.condition(svc, false, why.reason, why.message)
	return out, []Event{{Object: ref, Type: api.EventWarning, Reason: why.reason, Message: why.message}}
}
