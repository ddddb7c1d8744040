package doctor

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// channelCodes maps the planner's channel rejections to codes, with the annotation
// the fix rewrites and whether it lives on the mux.
var channelCodes = map[string]struct {
	code  string
	key   func(api.Keys) string
	onMux bool
}{
	api.ReasonMuxNotFound:              {"SVCMUX301", func(k api.Keys) string { return k.Multiplexer }, true},
	api.ReasonInvalidLoadBalancerClass: {"SVCMUX302", nil, false},
	api.ReasonInvalidPort:              {"SVCMUX303", nil, false},
	api.ReasonInvalidPortMapping:       {"SVCMUX304", func(k api.Keys) string { return k.ExternalPorts }, false},
	api.ReasonMuxPortConflict:          {"SVCMUX305", func(k api.Keys) string { return k.ExternalPorts }, false},
	api.ReasonMuxPortLimitExceeded:     {"SVCMUX306", func(k api.Keys) string { return k.MaxPorts }, true},
}

// checkChannels reports each channel the planner refused: rejected (nothing served)
// by its reason, kept (an edit refused while the last ports serve) as a warning.
func checkChannels(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		for _, oc := range m.Plan.Channels {
			reportOutcome(in, r, oc, m.Snapshot.Mux.Namespace, m.Snapshot.Mux.Name)
		}
	}
	for _, o := range in.Orphans {
		ns, name := "", ""
		if ref, ok, err := plan.ChannelMux(o.Service, in.Keys, in.DefaultMuxNamespace); ok && err == nil {
			ns, name = ref.Namespace, ref.Name
		}
		reportOutcome(in, r, o.Outcome, ns, name)
	}
}

func reportOutcome(in *Input, r *reporter, oc plan.ChannelOutcome, muxNS, muxName string) {
	if oc.Accepted || oc.Reason == "" {
		return
	}
	ch := oc.Channel
	args := svcArgs(ch.Namespace, ch.Name, "detail", oc.Message, "reason", oc.Reason,
		"muxNamespace", muxNS, "muxName", muxName)
	object := serviceObject(ch.Namespace, ch.Name)
	if oc.Kept {
		r.add("SVCMUX308", object, args)
		return
	}
	c, ok := channelCodes[oc.Reason]
	if !ok {
		r.add("SVCMUX307", object, args)
		return
	}
	if c.key != nil {
		args["key"] = c.key(in.Keys)
	}
	r.add(c.code, object, args)
}

// Provider load-balancer annotations a channel may carry in vain (SPEC §10).
var ignoredAnnotationPrefixes = []string{
	"service.beta.kubernetes.io/aws-load-balancer-",
	"service.beta.kubernetes.io/azure-",
	"cloud.google.com/",
	"networking.gke.io/",
}

// IgnoredFields lists the fields of a channel that a shared load balancer cannot
// honour (SPEC §10), in a stable order. A healthCheckNodePort the API server
// assigned for externalTrafficPolicy Local is part of that one entry.
func IgnoredFields(svc *corev1.Service) []string {
	var out []string
	s := svc.Spec
	if len(s.LoadBalancerSourceRanges) > 0 {
		out = append(out, "spec.loadBalancerSourceRanges")
	}
	local := s.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if local {
		out = append(out, "spec.externalTrafficPolicy: Local")
	}
	if s.LoadBalancerIP != "" {
		out = append(out, "spec.loadBalancerIP")
	}
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		out = append(out, "spec.sessionAffinity: ClientIP")
	}
	if s.HealthCheckNodePort != 0 && !local {
		out = append(out, "spec.healthCheckNodePort")
	}
	var keys []string
	for k := range svc.Annotations {
		for _, p := range ignoredAnnotationPrefixes {
			if strings.HasPrefix(k, p) {
				keys = append(keys, "annotation "+k)
				break
			}
		}
	}
	sort.Strings(keys)
	return append(out, keys...)
}

// checkChannelFields names, once per attached channel, every field it sets in vain.
func checkChannelFields(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		for _, ch := range m.Snapshot.Channels {
			fields := IgnoredFields(ch)
			if len(fields) == 0 {
				continue
			}
			r.add("SVCMUX309", serviceObject(ch.Namespace, ch.Name), svcArgs(ch.Namespace, ch.Name,
				"channel", ch.Namespace+"/"+ch.Name, "mux", muxRef(m), "fields", strings.Join(fields, ", ")))
		}
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
