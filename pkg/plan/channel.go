package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// mappingKind is how a channel port chooses its mux public port (SPEC §2).
type mappingKind int

const (
	mapDefault  mappingKind = iota // the channel's own port number
	mapExplicit                    // external-ports name:N
	mapAuto                        // external-ports name:auto
)

// portView is one named channel port, projected from the Service.
type portView struct {
	name        string
	protocol    corev1.Protocol
	channelPort int32
	muxName     string // 7-hex hash: the mux port name and the port's identity on the mux
	claimKey    string // protocol:namespace:service:portName, the state document's key
	owner       string // namespace/service:hash, how conflict messages name the owner
	kind        mappingKind
	want        int32 // requested public port (default and explicit); 0 for auto
}

func (p portView) source() string {
	if p.kind == mapAuto {
		return state.SourceAuto
	}
	return state.SourceStatic
}

// channelView is a channel Service projected into the values the rules need.
type channelView struct {
	ref    ObjectRef
	refStr string // ref.String(), built once: messages, keys and lists use it
	svc    *corev1.Service
	ready  int        // distinct ready backends, counted by buildEndpoints
	ports  []portView // named ports in spec.ports order
	// invalid is set when the channel cannot be admitted whatever the mux holds.
	invalid *rejection
	// denied is set when the mux does not admit the channel's namespace: unlike
	// invalid, the channel keeps nothing it held.
	denied *rejection
}

// owner is the "namespace/service:hash" form used in conflict messages.
func (c *channelView) owner(p portView) string { return p.owner }

// rejection is a refusal with the reason constant and a message naming the fix.
type rejection struct {
	reason    string
	message   string
	fieldPath string
}

// projection is what a channel's own fields decide, whatever the mux holds: its
// named ports and, when it can never be admitted, why. Passes may share one (Cache),
// so it is read-only once built.
type projection struct {
	ports   []portView
	invalid *rejection
}

// fill makes c the view of svc with its projection.
func (c *channelView) fill(svc *corev1.Service, pr projection) {
	c.ref = ObjectRef{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}
	c.refStr = svc.Namespace + "/" + svc.Name
	c.svc = svc
	c.ports, c.invalid = pr.ports, pr.invalid
}

// projectPorts reads a channel's ports and external-ports annotation. Parse
// problems are recorded on the projection (not returned) so a rejected channel
// still knows its named ports: an accepted channel that is edited badly keeps
// serving. Its ports are carved from slab (a pass projects thousands of channels).
func projectPorts(svc *corev1.Service, keys api.Keys, slab *[]portView) projection {
	var pr projection
	if slab != nil {
		pr.ports = carve(slab, len(svc.Spec.Ports))
	}
	ref := func() string { return svc.Namespace + "/" + svc.Name } // for messages only
	var unnamed []string
	for i, sp := range svc.Spec.Ports {
		if sp.Name == "" {
			unnamed = append(unnamed, fmt.Sprintf("spec.ports[%d]", i))
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		muxName := ports.MuxPortName(svc.Namespace, svc.Name, sp.Name)
		pr.ports = append(pr.ports, portView{
			name:        sp.Name,
			protocol:    proto,
			channelPort: sp.Port,
			muxName:     muxName,
			owner:       svc.Namespace + "/" + svc.Name + ":" + muxName,
			claimKey:    string(proto) + ":" + svc.Namespace + ":" + svc.Name + ":" + sp.Name,
			kind:        mapDefault,
			want:        sp.Port,
		})
	}
	if len(unnamed) > 0 {
		pr.invalid = &rejection{
			reason:    api.ReasonInvalidPort,
			fieldPath: unnamed[0],
			message: fmt.Sprintf("channel %s: every port needs a name; missing at %s; add spec.ports[].name",
				ref(), strings.Join(unnamed, ", ")),
		}
		return pr
	}
	if len(svc.Spec.Ports) == 0 {
		pr.invalid = &rejection{reason: api.ReasonInvalidPort, fieldPath: "spec.ports",
			message: fmt.Sprintf("channel %s declares no ports", ref())}
		return pr
	}
	// A list, not a map: a channel names a handful of ports, and this runs for every
	// channel of every pass.
	mapping, err := ports.ParseExternalPortList(svc.Annotations[keys.ExternalPorts])
	if err != nil {
		pr.invalid = &rejection{reason: api.ReasonInvalidPortMapping,
			message: fmt.Sprintf("channel %s: annotation %s: %v", ref(), keys.ExternalPorts, err)}
		return pr
	}
	var unknown []string
	for _, m := range mapping {
		if !hasPortNamed(pr.ports, m.Name) {
			unknown = append(unknown, m.Name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		pr.invalid = &rejection{reason: api.ReasonInvalidPortMapping,
			message: fmt.Sprintf("channel %s: annotation %s references unknown port name(s): %s; use names from spec.ports",
				ref(), keys.ExternalPorts, strings.Join(unknown, ", "))}
		return pr
	}
	for _, m := range mapping {
		for i := range pr.ports {
			switch {
			case pr.ports[i].name != m.Name:
			case m.Auto:
				pr.ports[i].kind, pr.ports[i].want = mapAuto, 0
			default:
				pr.ports[i].kind, pr.ports[i].want = mapExplicit, m.Port
			}
		}
	}
	return pr
}

func hasPortNamed(pvs []portView, name string) bool {
	for i := range pvs {
		if pvs[i].name == name {
			return true
		}
	}
	return false
}
