package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// IgnoredField is one setting of a channel that the mux's shared load balancer
// cannot honour (SPEC §10), and what to do instead.
type IgnoredField struct {
	// Field names it: "spec.loadBalancerSourceRanges", "spec.externalTrafficPolicy: Local",
	// "annotation service.beta.kubernetes.io/aws-load-balancer-scheme".
	Field string
	// Fix says what to do instead.
	Fix string
}

// String is "field (fix)", as the Event and the condition show it.
func (f IgnoredField) String() string { return f.Field + " (" + f.Fix + ")" }

// What to do instead. Every one ends with the way out that always works: a load
// balancer of the workload's own.
const (
	ownLB           = "or give the workload its own load balancer"
	fixEveryChannel = "set it on the mux, where it applies to every channel, " + ownLB
	fixLocal        = "only the mux's load balancer health-checks nodes, never the channel's healthCheckNodePort: " +
		"set externalTrafficPolicy: Local on the mux to keep client source IPs for every channel, " + ownLB
	fixLoadBalancerIP = "the channel's address is the mux's: set it on the mux, " + ownLB
	fixHealthCheck    = "only the mux's load balancer health-checks nodes: remove it, " + ownLB
	fixAnnotation     = "no cloud load balancer is made for a channel: set it on the mux, " + ownLB
)

// IgnoredChannelFields lists what svc sets that a shared load balancer cannot
// honour, in a fixed order: the spec fields as SPEC §10 lists them, then provider
// load-balancer annotations sorted by key. A healthCheckNodePort the API server
// assigned for externalTrafficPolicy Local is part of the Local entry.
func IgnoredChannelFields(svc *corev1.Service) []IgnoredField {
	var out []IgnoredField
	s := &svc.Spec
	if len(s.LoadBalancerSourceRanges) > 0 {
		out = append(out, IgnoredField{"spec.loadBalancerSourceRanges", fixEveryChannel})
	}
	local := s.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if local {
		out = append(out, IgnoredField{"spec.externalTrafficPolicy: Local", fixLocal})
	}
	if s.LoadBalancerIP != "" {
		out = append(out, IgnoredField{"spec.loadBalancerIP", fixLoadBalancerIP})
	}
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		out = append(out, IgnoredField{"spec.sessionAffinity: ClientIP", fixEveryChannel})
	}
	if s.HealthCheckNodePort != 0 && !local {
		out = append(out, IgnoredField{"spec.healthCheckNodePort", fixHealthCheck})
	}
	var keys []string
	for k := range svc.Annotations {
		if IsProviderLoadBalancerAnnotation(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, IgnoredField{"annotation " + k, fixAnnotation})
	}
	return out
}

// IsProviderLoadBalancerAnnotation reports whether a cloud controller reads key to
// shape a Service's load balancer (api.ProviderLoadBalancerAnnotationPrefixes).
func IsProviderLoadBalancerAnnotation(key string) bool {
	for _, p := range api.ProviderLoadBalancerAnnotationPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// joinIgnored is "a (fix); b (fix)".
func joinIgnored(fields []IgnoredField) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// ignoredFieldsEvent is the one ChannelFieldIgnored Warning for a channel, nil when
// it sets nothing of the kind. Its message depends only on the channel's settings
// and the mux, so the agent's dedup posts it once per distinct set.
func (p *pass) ignoredFieldsEvent(c *channelView, fields []IgnoredField) *Event {
	if len(fields) == 0 {
		return nil
	}
	return &Event{Object: c.ref, Type: api.EventWarning, Reason: api.ReasonChannelFieldIgnored,
		Message: fmt.Sprintf("channel %s: the shared load balancer of mux %s ignores %s",
			c.ref, p.mux, joinIgnored(fields))}
}
