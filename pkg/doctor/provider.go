package doctor

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Capacity facts doctor judges by (the provider caps are the planner's: api.GKEMaxPorts,
// api.AWSNLBMaxPorts).
const (
	gkeRangeAbove        = 5    // GKE forwards a Service with more ports as one port range
	defaultNodePortRange = 2768 // 30000-32767, the API server's default
	nodePortWarnPercent  = 80
)

func checkProviders(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		mux := m.Snapshot.Mux
		if m.Plan.Frozen {
			continue
		}
		obj := serviceObject(mux.Namespace, mux.Name)
		args := svcArgs(mux.Namespace, mux.Name, "mux", muxRef(m), "key", in.Keys.MaxPorts)
		if plan.IsGKE(mux) {
			if d := m.Plan.Stats.DeclaredPorts; d > api.GKEMaxPorts {
				args["declared"], args["rejected"] = strconv.Itoa(d), strconv.Itoa(overCap(m.Plan))
				r.add("SVCMUX601", obj, args)
			}
			if lo, hi, n := portSpan(m.Plan.Ports); n > gkeRangeAbove && hi-lo+1 > int32(n) {
				args["key"] = in.Keys.PortRange
				args["ports"], args["min"], args["max"] = strconv.Itoa(n), fmt.Sprint(lo), fmt.Sprint(hi)
				args["span"] = fmt.Sprint(hi - lo + 1)
				r.add("SVCMUX603", obj, args)
			}
		}
		if plan.IsAWSNLB(mux) && m.Plan.Stats.DeclaredPorts > api.AWSNLBMaxPorts {
			args["declared"], args["rejected"] = strconv.Itoa(m.Plan.Stats.DeclaredPorts), strconv.Itoa(overCap(m.Plan))
			r.add("SVCMUX602", obj, args)
		}
	}
}

// overCap counts the channels refused because the limit was reached.
func overCap(p plan.Plan) int {
	n := 0
	for _, oc := range p.Channels {
		if !oc.Accepted && oc.Reason == api.ReasonMuxPortLimitExceeded {
			n++
		}
	}
	return n
}

// portSpan is the lowest and highest served port and how many are served.
func portSpan(ps []corev1.ServicePort) (lo, hi int32, n int) {
	if isPlaceholder(ps) {
		return 0, 0, 0
	}
	for i, p := range ps {
		if i == 0 || p.Port < lo {
			lo = p.Port
		}
		if p.Port > hi {
			hi = p.Port
		}
	}
	return lo, hi, len(ps)
}

// checkNodePorts reports channels that hold NodePorts (no cloud load balancer is
// ever made for a channel, so nothing uses them) and a cluster running out of them.
func checkNodePorts(in *Input, r *reporter) {
	checkNodePortMemory(in, r)
	held := 0
	for i := range in.Muxes {
		for _, ch := range in.Muxes[i].Snapshot.Channels {
			held += wastedNodePorts(r, ch)
		}
	}
	for _, o := range in.Orphans {
		held += wastedNodePorts(r, o.Service)
	}
	muxes := 0
	for i := range in.Muxes {
		for _, p := range in.Muxes[i].Snapshot.Mux.Spec.Ports {
			if p.NodePort != 0 {
				muxes++
			}
		}
	}
	used := 0
	for i := range in.Services {
		for _, p := range in.Services[i].Spec.Ports {
			if p.NodePort != 0 {
				used++
			}
		}
	}
	if pct := used * 100 / defaultNodePortRange; pct >= nodePortWarnPercent {
		r.add("SVCMUX604", "cluster", map[string]string{"used": strconv.Itoa(used),
			"percent": strconv.Itoa(pct), "muxes": strconv.Itoa(muxes), "channels": strconv.Itoa(held)})
	}
}

// wastedNodePorts reports ch when it allocates NodePorts or still holds some, and
// returns how many it holds. The fix is one JSON patch: the flag set false and
// every allocated NodePort removed, since the API server keeps NodePorts already
// allocated when the flag alone goes false.
func wastedNodePorts(r *reporter, ch *corev1.Service) int {
	var ops []map[string]any
	allocates := ch.Spec.AllocateLoadBalancerNodePorts == nil || *ch.Spec.AllocateLoadBalancerNodePorts
	if allocates {
		ops = append(ops, map[string]any{"op": "add", "path": "/spec/allocateLoadBalancerNodePorts", "value": false})
	}
	held := 0
	for i, p := range ch.Spec.Ports {
		if p.NodePort != 0 {
			held++
			ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf("/spec/ports/%d/nodePort", i)})
		}
	}
	if len(ops) == 0 {
		return 0
	}
	why := fmt.Sprintf("holds %d NodePort(s)", held)
	if allocates {
		why += " and allocates one for every port it adds (allocateLoadBalancerNodePorts is not false)"
	} else {
		why += " allocated before allocateLoadBalancerNodePorts was set false"
	}
	b, _ := json.Marshal(ops)
	r.add("SVCMUX605", serviceObject(ch.Namespace, ch.Name), svcArgs(ch.Namespace, ch.Name,
		"channel", ch.Namespace+"/"+ch.Name, "why", why, "patch", "--type=json -p '"+string(b)+"'"))
	return held
}
