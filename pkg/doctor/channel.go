package doctor

import (
	"strings"

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
	api.ReasonNamespaceNotAllowed:      {"SVCMUX310", func(k api.Keys) string { return k.AllowedNamespaces }, true},
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

// checkChannelFields names, once per attached channel, every field it sets in vain
// (the planner's list: the agent's ChannelFieldIgnored Warning names the same).
func checkChannelFields(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		for _, ch := range m.Snapshot.Channels {
			ignored := plan.IgnoredChannelFields(ch)
			if len(ignored) == 0 {
				continue
			}
			fields := make([]string, len(ignored))
			for i, f := range ignored {
				fields[i] = f.Field
			}
			r.add("SVCMUX309", serviceObject(ch.Namespace, ch.Name), svcArgs(ch.Namespace, ch.Name,
				"channel", ch.Namespace+"/"+ch.Name, "mux", muxRef(m), "fields", strings.Join(fields, ", ")))
		}
	}
}
