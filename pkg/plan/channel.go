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
	ref   ObjectRef
	svc   *corev1.Service
	ports []portView // named ports in spec.ports order
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

// projectChannel reads a channel's ports and external-ports annotation. Parse
// problems are recorded on the view (not returned) so a rejected channel still
// knows its named ports: an accepted channel that is edited badly keeps serving.
func projectChannel(svc *corev1.Service, keys api.Keys) *channelView {
	c := &channelView{
		ref: ObjectRef{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID},
		svc: svc,
	}
	var unnamed []string
	names := map[string]bool{}
	for i, sp := range svc.Spec.Ports {
		if sp.Name == "" {
			unnamed = append(unnamed, fmt.Sprintf("spec.ports[%d]", i))
			continue
		}
		names[sp.Name] = true
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		muxName := ports.MuxPortName(svc.Namespace, svc.Name, sp.Name)
		c.ports = append(c.ports, portView{
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
		c.invalid = &rejection{
			reason:    api.ReasonInvalidPort,
			fieldPath: unnamed[0],
			message: fmt.Sprintf("channel %s: every port needs a name; missing at %s; add spec.ports[].name",
				c.ref, strings.Join(unnamed, ", ")),
		}
		return c
	}
	if len(svc.Spec.Ports) == 0 {
		c.invalid = &rejection{reason: api.ReasonInvalidPort, fieldPath: "spec.ports",
			message: fmt.Sprintf("channel %s declares no ports", c.ref)}
		return c
	}
	mapping, err := ports.ParseExternalPorts(svc.Annotations[keys.ExternalPorts])
	if err != nil {
		c.invalid = &rejection{reason: api.ReasonInvalidPortMapping,
			message: fmt.Sprintf("channel %s: annotation %s: %v", c.ref, keys.ExternalPorts, err)}
		return c
	}
	var unknown []string
	for name := range mapping {
		if !names[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		c.invalid = &rejection{reason: api.ReasonInvalidPortMapping,
			message: fmt.Sprintf("channel %s: annotation %s references unknown port name(s): %s; use names from spec.ports",
				c.ref, keys.ExternalPorts, strings.Join(unknown, ", "))}
		return c
	}
	for i := range c.ports {
		m, ok := mapping[c.ports[i].name]
		switch {
		case !ok:
		case m.Auto:
			c.ports[i].kind, c.ports[i].want = mapAuto, 0
		default:
			c.ports[i].kind, c.ports[i].want = mapExplicit, m.Port
		}
	}
	return c
}
