package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

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
	nameKey     uint32 // muxName's value: the pass indexes names by it, hashing no string
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
	ready  int                          // distinct ready backends, counted by gatherChannelSlices
	slices []*discoveryv1.EndpointSlice // the channel's own, by name (gatherChannelSlices)
	ports  []portView                   // named ports in spec.ports order
	base   int                          // the ordinal of ports[0] among the pass's named ports (pass.held)
	// ignored is what the channel sets that the shared load balancer cannot honour.
	ignored []IgnoredField
	dns     channelDNS // its external-dns wishes
	// declared is len(svc.Spec.Ports), read while the view is filled: a large
	// mux's Services lie all over the heap, and each touch of one is a cache miss.
	declared int
	// invalid is set when the channel cannot be admitted whatever the mux holds.
	invalid *rejection
	// denied is set when the mux does not admit the channel's namespace: unlike
	// invalid, the channel keeps nothing it held.
	denied *rejection
	// decision is what admission concluded (zero until admitAll): kept on the view,
	// not in a map, since every later step reads it for every channel.
	decision decision
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
	refStr  string // "namespace/name"
	ports   []portView
	invalid *rejection
	ignored []IgnoredField // IgnoredChannelFields, which walks every annotation
	dns     channelDNS     // derived with ignored, from the annotations
}

// fill makes c the view of svc with its projection.
func (c *channelView) fill(svc *corev1.Service, pr projection) {
	c.ref = ObjectRef{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}
	c.refStr = pr.refStr
	c.svc = svc
	c.ports, c.invalid, c.ignored, c.dns = pr.ports, pr.invalid, pr.ignored, pr.dns
	c.declared = len(svc.Spec.Ports)
}

// channelStrings is, in one allocation, "namespace/name" and for each named port
// its owner "namespace/name:hash" (the mux port name is the tail) and its claim key
// "protocol:namespace:name:portName", in that order: the projection cuts its
// strings from it, so a cold pass makes one string per channel instead of four per
// port.
func channelStrings(svc *corev1.Service) string {
	ns, name := svc.Namespace, svc.Name
	size := len(ns) + 1 + len(name)
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "" {
			size += len(ns) + len(name) + 2 + ports.MuxPortNameLen + len(ports.NormalProtocol(sp.Protocol)) + len(ns) + len(name) + len(sp.Name) + 3
		}
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(ns)
	b.WriteByte('/')
	b.WriteString(name)
	var hash [ports.MuxPortNameLen]byte
	for _, sp := range svc.Spec.Ports {
		if sp.Name == "" {
			continue
		}
		b.WriteString(ns)
		b.WriteByte('/')
		b.WriteString(name)
		b.WriteByte(':')
		b.Write(ports.AppendMuxPortName(hash[:0], ns, name, sp.Name))
		b.WriteString(string(ports.NormalProtocol(sp.Protocol)))
		b.WriteByte(':')
		b.WriteString(ns)
		b.WriteByte(':')
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(sp.Name)
	}
	return b.String()
}

// muxNameKey is the number a mux port name (7 lowercase hex digits) spells: two
// names are equal exactly when their keys are.
func muxNameKey(name string) uint32 {
	var k uint32
	for i := 0; i < len(name); i++ {
		c := uint32(name[i])
		if c <= '9' {
			c -= '0'
		} else {
			c -= 'a' - 10
		}
		k = k<<4 | c
	}
	return k
}

// projectPorts reads a channel's ports and external-ports annotation. Parse
// problems are recorded on the projection (not returned) so a rejected channel
// still knows its named ports: an accepted channel that is edited badly keeps
// serving. Its ports are carved from slab (a pass projects thousands of channels).
func projectPorts(svc *corev1.Service, keys api.Keys, slab *[]portView) projection {
	pr := projection{ignored: IgnoredChannelFields(svc), dns: readChannelDNS(svc, keys)}
	if slab != nil {
		pr.ports = carve(slab, len(svc.Spec.Ports))
	}
	strs := channelStrings(svc)
	refLen := len(svc.Namespace) + 1 + len(svc.Name)
	pr.refStr, strs = strs[:refLen], strs[refLen:]
	var unnamed []string
	for i, sp := range svc.Spec.Ports {
		if sp.Name == "" {
			unnamed = append(unnamed, fmt.Sprintf("spec.ports[%d]", i))
			continue
		}
		proto := ports.CanonicalProtocol(ports.NormalProtocol(sp.Protocol))
		var owner, claimKey string
		owner, strs = strs[:refLen+1+ports.MuxPortNameLen], strs[refLen+1+ports.MuxPortNameLen:]
		claimKeyLen := len(proto) + len(svc.Namespace) + len(svc.Name) + len(sp.Name) + 3
		claimKey, strs = strs[:claimKeyLen], strs[claimKeyLen:]
		pr.ports = append(pr.ports, portView{
			name:        sp.Name,
			protocol:    proto,
			channelPort: sp.Port,
			muxName:     owner[refLen+1:],
			nameKey:     muxNameKey(owner[refLen+1:]),
			owner:       owner,
			claimKey:    claimKey,
			kind:        mapDefault,
			want:        sp.Port,
		})
	}
	if len(unnamed) > 0 {
		pr.invalid = &rejection{
			reason:    api.ReasonInvalidPort,
			fieldPath: unnamed[0],
			message: fmt.Sprintf("channel %s: every port needs a name; missing at %s; add spec.ports[].name",
				pr.refStr, strings.Join(unnamed, ", ")),
		}
		return pr
	}
	if len(svc.Spec.Ports) == 0 {
		pr.invalid = &rejection{reason: api.ReasonInvalidPort, fieldPath: "spec.ports",
			message: fmt.Sprintf("channel %s declares no ports", pr.refStr)}
		return pr
	}
	// A list, not a map: a channel names a handful of ports, and this runs for every
	// channel of every pass.
	var buf [4]ports.ExternalPort
	mapping, err := ports.AppendExternalPortList(buf[:0], svc.Annotations[keys.ExternalPorts])
	if err != nil {
		pr.invalid = &rejection{reason: api.ReasonInvalidPortMapping,
			message: fmt.Sprintf("channel %s: annotation %s: %v", pr.refStr, keys.ExternalPorts, err)}
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
				pr.refStr, keys.ExternalPorts, strings.Join(unknown, ", "))}
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
