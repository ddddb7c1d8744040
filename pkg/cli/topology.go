package cli

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/ports"
)

// TopologyOptions are the flags of `kubectl svcmux topology`.
type TopologyOptions struct {
	genericiooptions.IOStreams
	g      *Globals
	Output string
}

// NewCmdTopology builds `kubectl svcmux topology [MUX]`.
func NewCmdTopology(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &TopologyOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "topology [MUX]",
		Short: "Show each mux, its channels, their public ports and backends",
		Long: `Show each mux (address, ports used and limit, port range, state health), every
channel attached to it (Accepted, Rejected with the reason, or Kept: a refused edit
while the last good ports keep serving), their ports name:port->muxPort/PROTO and
ready backends. Channels whose class names no mux are listed last.`,
		Example: `  kubectl svcmux topology
  kubectl svcmux topology mux -n svc-mux -o wide
  kubectl svcmux topology -o dot | dot -Tsvg > topology.svg`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			cl, muxes, err := g.loadMuxes(cmd, args)
			if err != nil {
				return err
			}
			doc := buildTopology(cl, muxes, len(args) == 0)
			return o.print(doc)
		},
		ValidArgsFunction: completeMuxes(g),
	}
	addOutputFlag(cmd, &o.Output, outputTable, outputWide, outputJSON, outputYAML, outputDot)
	return cmd
}

func (o *TopologyOptions) print(doc Topology) error {
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	if o.Output == outputDot {
		return printTopologyDot(o.Out, doc)
	}
	return printTopologyTree(o.Out, doc, o.Output == outputWide)
}

// Topology is the `-o json` document of `kubectl svcmux topology`.
type Topology struct {
	TypeMeta
	Muxes []TopologyMux `json:"muxes"`
	// Unattached are channels whose class names no mux (or does not parse), and
	// detached former channels the agent has not cleaned yet.
	Unattached []TopologyChannel `json:"unattached"`
}

// TopologyMux is one mux.
type TopologyMux struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Address is the mux's first ingress IP or hostname, or "pending".
	Address string `json:"address"`
	// Ports is the number of public ports served; Limit the cap in force (0: none).
	Ports     int    `json:"ports"`
	Limit     int    `json:"limit"`
	PortRange string `json:"portRange"`
	// State is the state ConfigMap's health: ok, missing (created on the next pass), invalid.
	State        string            `json:"state"`
	StateProblem string            `json:"stateProblem,omitempty"`
	Frozen       string            `json:"frozen,omitempty"`
	Channels     []TopologyChannel `json:"channels"`
}

// Channel statuses.
const (
	StatusAccepted = "Accepted"
	StatusRejected = "Rejected"
	StatusKept     = "Kept"
	// StatusDetached marks a former channel (unattached list only) that still
	// carries svcmux's leftovers until the agent's next pass removes them.
	StatusDetached = "Detached"
)

// TopologyChannel is one channel and what the planner decided for it.
type TopologyChannel struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Mux is set on unattached channels: the mux their class names.
	Mux      string         `json:"mux,omitempty"`
	Status   string         `json:"status"`
	Reason   string         `json:"reason"`
	Message  string         `json:"message"`
	Ports    []TopologyPort `json:"ports"`
	Backends Backends       `json:"backends"`
}

// TopologyPort is one declared channel port; MuxPort 0 means not served (pending).
type TopologyPort struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	MuxPort  int32  `json:"muxPort"`
	Protocol string `json:"protocol"`
	NodePort int32  `json:"nodePort,omitempty"`
}

// Backends counts a channel's distinct backends.
type Backends struct {
	Ready int `json:"ready"`
	Total int `json:"total"`
}

func buildTopology(cl *Cluster, muxes []MuxView, withOrphans bool) Topology {
	doc := Topology{TypeMeta: typeMeta("Topology"), Muxes: []TopologyMux{}, Unattached: []TopologyChannel{}}
	for _, m := range muxes {
		doc.Muxes = append(doc.Muxes, topologyMux(m))
	}
	if withOrphans {
		for _, o := range cl.Orphans {
			ch := topologyChannel(o.Service, o.Outcome, nil, nil)
			ch.Mux = o.Mux
			if o.Detached {
				ch.Status, ch.Reason = StatusDetached, ""
				ch.Message = "no longer a channel of any mux; the agent removes svcmux's annotation, ingress and condition"
			}
			doc.Unattached = append(doc.Unattached, ch)
		}
	}
	return doc
}

func topologyMux(m MuxView) TopologyMux {
	p := m.Plan
	out := TopologyMux{
		Namespace: m.Mux.Namespace, Name: m.Mux.Name, Address: muxAddress(m.Mux),
		Ports: p.Stats.Ports, Limit: p.Limit, PortRange: p.PortRange, Frozen: p.FrozenReason,
		Channels: []TopologyChannel{},
	}
	switch {
	case !p.State.Readable:
		out.State, out.StateProblem = "invalid", p.State.Problem
	case m.Snapshot.StateConfigMap == nil:
		out.State = "missing"
	default:
		out.State = "ok"
	}
	nodePorts := map[string]int32{}
	for _, sp := range m.Mux.Spec.Ports {
		nodePorts[sp.Name] = sp.NodePort
	}
	bySvc := map[string]*corev1.Service{}
	for _, ch := range m.Snapshot.Channels {
		bySvc[ch.Namespace+"/"+ch.Name] = ch
	}
	slices := slicesByService(m.Snapshot.ChannelSlices)
	for _, oc := range p.Channels {
		svc := bySvc[oc.Channel.String()]
		if svc == nil {
			continue
		}
		out.Channels = append(out.Channels, topologyChannel(svc, oc, slices[oc.Channel.String()], nodePorts))
	}
	return out
}

// topologyChannel joins the planner's outcome with the channel's declared ports.
func topologyChannel(svc *corev1.Service, oc plan.ChannelOutcome, slices []*discoveryv1.EndpointSlice, nodePorts map[string]int32) TopologyChannel {
	ch := TopologyChannel{Namespace: svc.Namespace, Name: svc.Name, Status: channelStatus(oc),
		Reason: oc.Reason, Message: oc.Message, Ports: []TopologyPort{}}
	served := map[string]int32{}
	for _, mp := range oc.Mappings {
		served[mp.Name] = mp.MuxPort
	}
	for _, sp := range svc.Spec.Ports {
		tp := TopologyPort{Name: sp.Name, Port: sp.Port, MuxPort: served[sp.Name], Protocol: string(protocolOf(sp))}
		if tp.MuxPort != 0 {
			tp.NodePort = nodePorts[ports.MuxPortName(svc.Namespace, svc.Name, sp.Name)]
		}
		ch.Ports = append(ch.Ports, tp)
	}
	ch.Backends.Ready, ch.Backends.Total = plan.CountBackends(slices)
	return ch
}

func channelStatus(oc plan.ChannelOutcome) string {
	switch {
	case oc.Accepted:
		return StatusAccepted
	case oc.Kept:
		return StatusKept
	}
	return StatusRejected
}

func protocolOf(sp corev1.ServicePort) corev1.Protocol {
	if sp.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return sp.Protocol
}

// muxAddress is the first ingress IP or hostname, or "pending" (as the summary says).
func muxAddress(mux *corev1.Service) string {
	for _, in := range mux.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
		if in.Hostname != "" {
			return in.Hostname
		}
	}
	return "pending"
}

// slicesByService groups EndpointSlices by "ns/<kubernetes.io/service-name>".
func slicesByService(list []*discoveryv1.EndpointSlice) map[string][]*discoveryv1.EndpointSlice {
	out := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range list {
		k := s.Namespace + "/" + s.Labels[api.LabelServiceName]
		out[k] = append(out[k], s)
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i].Name < v[j].Name })
	}
	return out
}

// limitText is "3/100", or "3" with no limit.
func limitText(used, limit int) string {
	if limit == 0 {
		return fmt.Sprint(used)
	}
	return fmt.Sprintf("%d/%d", used, limit)
}
