package doctor

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// KopfPrefix marks the annotations kopf (the Python controller's framework) keeps.
const KopfPrefix = "kopf.zalando.org/"

// scopeServices are the muxes and channels in scope, each once, with what it is.
func scopeServices(in *Input) []scoped {
	var out []scoped
	seen := map[string]bool{}
	add := func(svc *corev1.Service, kind string) {
		k := svc.Namespace + "/" + svc.Name
		if !seen[k] {
			seen[k] = true
			out = append(out, scoped{svc, kind})
		}
	}
	for i := range in.Muxes {
		add(in.Muxes[i].Snapshot.Mux, "mux")
		for _, ch := range in.Muxes[i].Snapshot.Channels {
			add(ch, "channel")
		}
	}
	for _, o := range in.Orphans {
		add(o.Service, "channel")
	}
	return out
}

type scoped struct {
	svc  *corev1.Service
	kind string
}

// checkFinalizers finds svc-lb-mux's finalizer on muxes and channels. The planner
// lists the ones the agent strips (plan.StripFinalizers); doctor also looks at
// channels no mux pass covers, which keep theirs.
func checkFinalizers(in *Input, r *reporter) {
	for _, s := range scopeServices(in) {
		for i, f := range s.svc.Finalizers {
			if f != in.Keys.Finalizer {
				continue
			}
			ref := s.svc.Namespace + "/" + s.svc.Name
			r.add("SVCMUX701", serviceObject(s.svc.Namespace, s.svc.Name), svcArgs(s.svc.Namespace, s.svc.Name,
				"kind", s.kind, "object", ref, "finalizer", f, "index", strconv.Itoa(i)))
		}
	}
}

// checkLegacyEndpoints finds svc-lb-mux's Endpoints object beside a mux while the
// agent writes EndpointSlices only: the cluster mirrors it into slices that route
// to stale backends. In endpoints or both mode the agent owns that object itself.
func checkLegacyEndpoints(in *Input, r *reporter) {
	mode := defaultEndpointsMode
	if len(in.Agents) > 0 {
		mode = ParseAgentConfig(&in.Agents[0]).EndpointsMode
	}
	if mode != defaultEndpointsMode {
		return
	}
	muxes := map[string]bool{}
	for i := range in.Muxes {
		muxes[muxRef(&in.Muxes[i])] = true
	}
	for _, ep := range in.LegacyEndpoints {
		ref := ep.Namespace + "/" + ep.Name
		if !muxes[ref] || ep.Labels[api.LabelManagedBy] != api.AppName || ep.Labels[api.LabelComponent] != api.ComponentMuxEndpoints {
			continue
		}
		r.add("SVCMUX702", "Endpoints "+ref, svcArgs(ep.Namespace, ep.Name, "object", ref, "mux", ref))
	}
}

// checkKopf finds kopf's bookkeeping annotations left on muxes and channels.
func checkKopf(in *Input, r *reporter) {
	for _, s := range scopeServices(in) {
		var keys []string
		for k := range s.svc.Annotations {
			if strings.HasPrefix(k, KopfPrefix) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		removals := make([]string, len(keys))
		for i, k := range keys {
			removals[i] = k + "-"
		}
		r.add("SVCMUX703", serviceObject(s.svc.Namespace, s.svc.Name), svcArgs(s.svc.Namespace, s.svc.Name,
			"kind", s.kind, "object", s.svc.Namespace+"/"+s.svc.Name,
			"keys", strings.Join(keys, ", "), "removals", strings.Join(removals, " ")))
	}
}
