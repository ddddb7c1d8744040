package cli

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// CheckReport is the `-o json` document of `kubectl svcmux check`.
type CheckReport struct {
	TypeMeta
	// Note says what the prediction covers: one agent pass over all the files.
	Note string `json:"note"`
	// Offline is true when the files were planned alone (--offline).
	Offline bool `json:"offline"`
	// Passes is how many agent passes it takes to settle: the first pass's writes
	// (the channels it accepts become owners) can change the next pass's reasons.
	// Settled is false when the planner had not settled after the last of them.
	Passes  int  `json:"passes"`
	Settled bool `json:"settled"`
	// Namespace is where objects without metadata.namespace were put.
	Namespace string         `json:"namespace"`
	Muxes     []CheckMux     `json:"muxes"`
	Channels  []CheckChannel `json:"channels"`
	// Ignored counts the objects the planner does not read, by kind.
	Ignored []CheckIgnored `json:"ignored"`
}

// CheckNote is the note every report carries.
const CheckNote = "check predicts what the agent does with everything in the files applied at once " +
	"(ONE pass over them all, and the passes after it until nothing changes); " +
	"applied one by one, the channels applied first become owners of their ports"

// Mux statuses in a CheckReport.
const (
	MuxValid   = "Valid"
	MuxInvalid = "Invalid"
)

// CheckMux is a mux defined in the files.
type CheckMux struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	// New is true when the mux does not exist on the cluster yet (always with --offline).
	New bool `json:"new"`
	// Status is Valid, or Invalid when the agent would change nothing on the mux
	// (Reason and Message say why: NotLoadBalancer, NotSupported, InvalidMaxPorts).
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Ports is the number of public ports the mux would serve; Limit the cap in force.
	Ports     int    `json:"ports"`
	Limit     int    `json:"limit"`
	PortRange string `json:"portRange"`
	Channels  int    `json:"channels"`
	// Warnings are the mux's other Warning events of the pass (InvalidPortRange, ...).
	Warnings []CheckWarning `json:"warnings"`
}

// CheckWarning is one Warning the agent would post.
type CheckWarning struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// CheckChannel is a channel defined in the files and what the pass decides for it.
type CheckChannel struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Mux is the ns/name its class names ("" when the class does not parse).
	Mux  string `json:"mux"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Status is Accepted, Rejected or Kept; Reason and Message are the ones the
	// agent writes in the channel's Accepted condition.
	Status  string      `json:"status"`
	Reason  string      `json:"reason"`
	Message string      `json:"message"`
	Ports   []CheckPort `json:"ports"`
}

// CheckPort is one declared port; MuxPort 0 means it would not be served.
type CheckPort struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	MuxPort  int32  `json:"muxPort"`
	Protocol string `json:"protocol"`
}

// CheckIgnored counts objects of one kind the planner does not read.
type CheckIgnored struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// failed is what makes check exit 1: a channel not accepted, or an invalid mux.
func (r CheckReport) failed() bool {
	for _, c := range r.Channels {
		if c.Status != StatusAccepted {
			return true
		}
	}
	for _, m := range r.Muxes {
		if m.Status != MuxValid {
			return true
		}
	}
	return false
}

func buildCheckReport(cl *Cluster, f *checkFiles) CheckReport {
	doc := CheckReport{TypeMeta: typeMeta("CheckReport"), Note: CheckNote,
		Muxes: []CheckMux{}, Channels: []CheckChannel{}, Ignored: []CheckIgnored{}}
	muxes := map[string]*MuxView{}
	for i := range cl.Muxes {
		muxes[cl.Muxes[i].key()] = &cl.Muxes[i]
	}
	orphans := map[string]OrphanView{}
	for _, o := range cl.Orphans {
		orphans[o.Service.Namespace+"/"+o.Service.Name] = o
	}
	for _, fs := range f.Services {
		svc := fs.Svc
		if plan.IsMux(svc, cl.Keys) {
			if m := muxes[svc.Namespace+"/"+svc.Name]; m != nil {
				doc.Muxes = append(doc.Muxes, checkMux(m, fs))
			}
			continue
		}
		doc.Channels = append(doc.Channels, checkChannel(cl, muxes, orphans, fs))
	}
	for kind, n := range f.Ignored {
		doc.Ignored = append(doc.Ignored, CheckIgnored{Kind: kind, Count: n})
	}
	sort.Slice(doc.Ignored, func(i, j int) bool { return doc.Ignored[i].Kind < doc.Ignored[j].Kind })
	return doc
}

func checkMux(m *MuxView, fs fileService) CheckMux {
	p := m.Plan
	out := CheckMux{Namespace: m.Mux.Namespace, Name: m.Mux.Name, File: fs.At.File, Line: fs.At.Line, New: fs.New,
		Status: MuxValid, Ports: p.Stats.Ports, Limit: p.Limit, PortRange: p.PortRange,
		Channels: len(m.Snapshot.Channels), Warnings: []CheckWarning{}}
	if p.Frozen {
		out.Status, out.Reason, out.Message = MuxInvalid, p.FrozenReason, muxWarning(p, p.FrozenReason)
		out.Ports = countServed(m.Mux.Spec.Ports)
	}
	for _, e := range p.Events {
		if e.Object == p.Mux && e.Type == api.EventWarning && e.Reason != p.FrozenReason {
			out.Warnings = append(out.Warnings, CheckWarning{Reason: e.Reason, Message: e.Message})
		}
	}
	return out
}

// countServed counts a frozen mux's live ports (which it keeps), the placeholder as none.
func countServed(ps []corev1.ServicePort) int {
	if len(ps) == 1 && ps[0].Name == "placeholder" {
		return 0
	}
	return len(ps)
}

// muxWarning is the message of the mux's Warning with reason (the planner's text).
func muxWarning(p plan.Plan, reason string) string {
	for _, e := range p.Events {
		if e.Object == p.Mux && e.Reason == reason {
			return e.Message
		}
	}
	return ""
}

// checkChannel finds what the pass decided for a channel in the files: its mux's
// outcome, or the unattached outcome when its mux does not exist or its class does
// not parse. A channel of a frozen mux gets nothing: the agent applies no change there.
func checkChannel(cl *Cluster, muxes map[string]*MuxView, orphans map[string]OrphanView, fs fileService) CheckChannel {
	svc := fs.Svc
	ch := CheckChannel{Namespace: svc.Namespace, Name: svc.Name, File: fs.At.File, Line: fs.At.Line}
	ref, _, err := plan.ChannelMux(svc, cl.Keys, cl.Opts.DefaultMuxNamespace)
	if err == nil {
		ch.Mux = ref.String()
	}
	var oc plan.ChannelOutcome
	m := muxes[ch.Mux]
	switch {
	case err != nil || m == nil:
		oc = orphans[svc.Namespace+"/"+svc.Name].Outcome
	case m.Plan.Frozen:
		oc.Reason = m.Plan.FrozenReason
		oc.Message = fmt.Sprintf("mux %s is invalid (%s): the agent changes nothing on it or its channels until it is fixed",
			ch.Mux, m.Plan.FrozenReason)
		if why := muxWarning(m.Plan, m.Plan.FrozenReason); why != "" {
			oc.Message += ": " + why
		}
	default:
		for _, c := range m.Plan.Channels {
			if c.Channel.Namespace == svc.Namespace && c.Channel.Name == svc.Name {
				oc = c
			}
		}
	}
	ch.Status, ch.Reason, ch.Message = channelStatus(oc), oc.Reason, oc.Message
	served := map[string]int32{}
	for _, mp := range oc.Mappings {
		served[mp.Name] = mp.MuxPort
	}
	ch.Ports = []CheckPort{}
	for _, sp := range svc.Spec.Ports {
		ch.Ports = append(ch.Ports, CheckPort{Name: sp.Name, Port: sp.Port, MuxPort: served[sp.Name], Protocol: string(protocolOf(sp))})
	}
	return ch
}
