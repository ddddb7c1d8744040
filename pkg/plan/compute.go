package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// pass is the working memory of one Compute call.
type pass struct {
	opts   Options
	keys   api.Keys
	snap   Snapshot
	mux    api.MuxRef
	muxRef string            // mux.String(), computed once
	labels map[string]string // mux slice labels, shared by every slice

	channels []*channelView // attached, namespace/name order
	ports    int            // their named ports

	ranges   ports.Ranges
	rangeErr error
	limit    int // 0 = no limit
	tenancy  Tenancy

	stateOK      bool
	stateProblem string
	oldDoc       state.Document

	ledger *ports.Ledger
	// held is, by port ordinal (channelView.base + the port's index), the key each
	// identity holds when the pass started; heldCount counts them. A slice, not a
	// map by claim key: a steady pass of a large mux asks it six times per port.
	held       []holding
	heldCount  int
	names      map[uint32]string // mux port name (its nameKey) -> claim key of the identity using it
	served     int
	servedSlab []servedPort // backs the decisions' served ports
	// channelEndpoints counts the endpoints of every channel slice (gatherChannelSlices).
	channelEndpoints int

	plan Plan
	// endpointsEvents are buildEndpoints' Events, kept apart while it runs beside
	// other stages (buildBesideEndpoints) and added to the plan's after.
	endpointsEvents []Event
	// origins, groupKeys and built are slicesFor's account of where each desired
	// slice came from, for compareSlices and rememberSlices (slicememo.go).
	origins   []sliceOrigin
	groupKeys []string
	built     groupReuse
}

// Compute plans one mux. The snapshot is read, never written.
func Compute(s Snapshot, o Options) Plan {
	if o.EndpointsMode == "" {
		o.EndpointsMode = EndpointsModeSlices
	}
	p := &pass{
		opts: o, keys: o.Keys, snap: s,
		mux: api.MuxRef{Namespace: s.Mux.Namespace, Name: s.Mux.Name},
		// The maps and the ledger are sized by project, which counts the ports.
	}
	p.muxRef = p.mux.String()
	p.plan.Mux = ObjectRef{Kind: "Service", Namespace: s.Mux.Namespace, Name: s.Mux.Name, UID: s.Mux.UID}
	p.plan.Keys = p.keys
	p.plan.State.Name = StateConfigMapName(s.Mux, p.keys)
	p.plan.State.Labels = map[string]string{api.LabelName: api.AppName, api.LabelComponent: api.ComponentMuxState}
	p.plan.State.Annotations = map[string]string{p.keys.Mux: p.mux.String()}
	if !p.readMux() {
		// Frozen, but a leftover finalizer still goes: deletes must never hang.
		p.plan.Frozen = true
		p.project()
		p.buildFinalizers()
		return p.plan
	}
	p.project()
	// The channels' slices are gathered while the channels are decided: neither
	// reads what the other writes.
	besides(len(p.channels), p.gatherChannelSlices, func() {
		p.denyOutsiders()
		p.reserveOwners()
		p.admitAll()
	})
	p.buildBesideEndpoints()
	p.buildFinalizers()
	sortEvents(p.plan.Events)
	return p.plan
}

// buildBesideEndpoints runs buildEndpoints on its own goroutine while the mux
// ports, NodePort, state, channel and annotation stages run on this one, then adds
// its Events. They read the decisions and write disjoint parts of the plan and of
// the channel views (the ready pods the annotations show were counted before, by
// gatherChannelSlices). The endpoints are a third of a cold pass of a large mux, so
// on two cores that pass takes little more than the longer of the two (a small
// mux's run one after the other); the mux ports and NodePorts are here, not beside
// gatherChannelSlices, because the decisions take longer than the gathering and
// the endpoints longer than the rest. Events are sorted after, so the plan is the
// same as if the stages ran one after another.
func (p *pass) buildBesideEndpoints() {
	besides(len(p.channels), p.buildEndpoints, func() {
		p.buildPorts()
		p.buildNodePorts() // before the state, which it may carry
		p.buildState()
		p.buildChannels()
		p.buildAnnotations()
	})
	p.plan.Events = append(p.plan.Events, p.endpointsEvents...)
}

// readMux validates the mux and its settings; false freezes the mux: nothing but
// Events is applied until it is fixed, so its ports, endpoints and state stay.
func (p *pass) readMux() bool {
	mux := p.snap.Mux
	if mux.DeletionTimestamp != nil {
		// Going away (its namespace may be terminating): nothing may be created for
		// it, and only the leftover finalizer is removed.
		p.plan.FrozenReason = "Deleting"
		return false
	}
	if why := MuxProblem(mux); why != nil {
		p.warnMux(why.reason, why.message)
		p.plan.FrozenReason = why.reason
		return false
	}
	limit, capReason, capNotice, err := portLimit(mux, p.keys)
	if err != nil {
		p.warnMux(api.ReasonInvalidMaxPorts, fmt.Sprintf("mux %s: %v; the mux keeps its current ports, endpoints and state until it is fixed", p.mux, err))
		p.plan.FrozenReason = api.ReasonInvalidMaxPorts
		return false
	}
	if capNotice != "" {
		p.warnMux(capReason, capNotice)
	}
	p.limit = limit
	p.plan.Limit = limit
	if !p.readTenancy() {
		return false
	}
	p.ranges, p.rangeErr = ports.ParsePortRange(mux.Annotations[p.keys.PortRange])
	if p.rangeErr == nil {
		p.plan.PortRange = p.ranges.String()
	} else {
		p.ranges = nil
		p.warnMux(api.ReasonInvalidPortRange, fmt.Sprintf("mux %s: annotation %s: %v; owners keep their ports, no new automatic port is given",
			p.mux, p.keys.PortRange, p.rangeErr))
	}
	doc, err := readState(p.snap.StateConfigMap, mux, p.keys, p.opts.StateCache)
	p.stateOK = err == nil
	p.plan.State.Readable = p.stateOK
	if err != nil {
		p.stateProblem = err.Error()
		p.plan.State.Problem = p.stateProblem
		p.warnMux(api.ReasonPortAllocationStoreInvalid, p.stateProblem)
	}
	p.oldDoc = doc
	return true
}

// project builds channel views in namespace/name order and indexes their ports.
// The views, their ports and the pass's maps are sized once from the snapshot: a
// mux may have tens of thousands of channel ports.
func (p *pass) project() {
	n := 0
	for _, svc := range p.snap.Channels {
		n += len(svc.Spec.Ports)
	}
	projections := make([]projection, len(p.snap.Channels))
	p.opts.Cache.project(p.snap.Channels, p.keys, n, projections)
	views := make([]channelView, len(p.snap.Channels))
	p.channels = make([]*channelView, len(views))
	named := 0
	for i, svc := range p.snap.Channels {
		views[i].fill(svc, projections[i])
		views[i].base = named
		named += len(views[i].ports)
		p.channels[i] = &views[i]
	}
	if byRef := func(a, b *channelView) int { return compareRefs(a.ref, b.ref) }; !isSortedBy(p.channels, byRef) {
		sortInHalves(p.channels, byRef)
	}
	p.ports = n
	p.held = make([]holding, named)
	p.names = make(map[uint32]string, n)
	p.ledger = ports.NewLedgerSize(n)
	p.servedSlab = newSlab[servedPort](n)
}

// buildPorts is the mux spec.ports: every served port sorted by (port, protocol).
func (p *pass) buildPorts() {
	served := p.servedPorts()
	sortServedByKey(served)
	out := make([]corev1.ServicePort, len(served))
	for i, sp := range served {
		out[i] = corev1.ServicePort{Name: sp.pv.muxName, Port: sp.key.Port, Protocol: sp.key.Protocol}
	}
	if len(out) == 0 {
		out = placeholderPorts()
	} else {
		p.plan.Stats.Ports = len(out)
	}
	p.plan.Ports = out
	if msg := portsChangeMessage(p.snap.Mux.Spec.Ports, out); msg != "" {
		p.normalMux(api.ReasonMuxPortsChanged, msg)
	}
}

// buildState is the new state document: the claims of every served port. It is
// written only when readable, the range is valid, and the content changed.
func (p *pass) buildState() {
	all := p.servedByClaimKey() // on the precomputed claim keys: Claim.Key builds a string per call
	doc := state.Document{Mux: p.mux, Claims: make([]state.Claim, len(all))}
	for i, sp := range all {
		doc.Claims[i] = sp.claim()
	}
	sp := &p.plan.State
	sp.Document = doc
	if !p.stateOK {
		return
	}
	if p.rangeErr != nil {
		sp.Problem = fmt.Sprintf("mux %s has an invalid %s; state is not written until it is fixed", p.mux, p.keys.PortRange)
		return
	}
	sp.Create = p.snap.StateConfigMap == nil
	sp.Write = sp.Create || p.oldDoc.Migrated || !sameDocument(p.oldDoc, doc)
	if sp.Write {
		p.fitState(sp) // only what is written is encoded: 10k claims cost milliseconds
	}
}

// fitState encodes the state document to fit in what one ConfigMap holds, beside the
// ConfigMap's other keys as this pass leaves them. Past the limit it is written
// compact (the same JSON without whitespace); past it even then, the API server
// will refuse the write and the pass stops at its first stage, so the mux is told
// why and what to do rather than left with a retried API error. Ports already
// served are not touched: the mux takes no change until the state fits again.
func (p *pass) fitState(sp *StatePlan) {
	others := 0
	if cm := p.snap.StateConfigMap; cm != nil {
		for k, v := range cm.Data {
			if k != api.StateKey && !(k == api.NodePortsKey && sp.WriteNodePorts) {
				others += len(k) + len(v)
			}
		}
		for k, v := range cm.BinaryData {
			others += len(k) + len(v)
		}
	}
	if sp.WriteNodePorts {
		others += len(api.NodePortsKey) + len(sp.NodePortsEncoded)
	}
	budget := state.ConfigMapLimit - len(api.StateKey) - others
	sp.Encoded = sp.Document.EncodeWithin(budget)
	if len(sp.Encoded) <= budget {
		return
	}
	sp.Problem = fmt.Sprintf("mux %s: the claims of its %d ports take %d bytes in state ConfigMap %s/%s, more than the %d a ConfigMap holds "+
		"beside its other keys; the mux takes no change until they fit: move channels to another mux", p.mux, len(sp.Document.Claims),
		len(sp.Encoded), p.mux.Namespace, sp.Name, budget)
	p.warnMux(api.ReasonPortAllocationStoreTooLarge, sp.Problem)
}

// servedPorts lists every served port in channel order, by pointer: sorting
// pointers moves 8 bytes where a port or claim is a hundred.
func (p *pass) servedPorts() []*servedPort {
	out := make([]*servedPort, 0, p.served)
	for _, c := range p.channels {
		served := c.decision.served
		for i := range served {
			out = append(out, &served[i])
		}
	}
	return out
}

// sameDocument compares two sorted, normalised documents (Decode returns them so,
// and the planner builds them so) without the copies state.Document.Equal makes.
func sameDocument(a, b state.Document) bool {
	if a.Mux != b.Mux || len(a.Claims) != len(b.Claims) {
		return false
	}
	for i := range a.Claims {
		if a.Claims[i] != b.Claims[i] {
			return a.Equal(b) // not normalised alike after all: the exact comparison decides
		}
	}
	return true
}

// buildFinalizers lists the Python controller's leftover finalizer for removal.
func (p *pass) buildFinalizers() {
	if hasFinalizer(p.snap.Mux.Finalizers, p.keys.Finalizer) {
		p.plan.StripFinalizers = append(p.plan.StripFinalizers, p.plan.Mux)
	}
	for _, c := range p.channels {
		if hasFinalizer(c.svc.Finalizers, p.keys.Finalizer) {
			p.plan.StripFinalizers = append(p.plan.StripFinalizers, c.ref)
		}
	}
}

func hasFinalizer(list []string, f string) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}

func (p *pass) warnMux(reason, msg string) {
	p.plan.Events = append(p.plan.Events, Event{Object: p.plan.Mux, Type: api.EventWarning, Reason: reason, Message: msg})
}

func (p *pass) normalMux(reason, msg string) {
	p.plan.Events = append(p.plan.Events, Event{Object: p.plan.Mux, Type: api.EventNormal, Reason: reason, Message: msg})
}

func refLess(a, b ObjectRef) bool { return compareRefs(a, b) < 0 }

// compareRefs orders by namespace, then name.
func compareRefs(a, b ObjectRef) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// sortEvents orders events by object, then reason and message, so plans compare.
func sortEvents(ev []Event) {
	sort.SliceStable(ev, func(i, j int) bool {
		a, b := ev[i], ev[j]
		if a.Object != b.Object {
			if a.Object.Kind != b.Object.Kind {
				return a.Object.Kind < b.Object.Kind
			}
			return refLess(a.Object, b.Object)
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Message < b.Message
	})
}

// condition builds the Accepted condition, moving lastTransitionTime only on a flip.
func (p *pass) condition(svc *corev1.Service, ok bool, reason, msg string) *metav1.Condition {
	c := &metav1.Condition{}
	p.fillCondition(c, svc, ok, reason, msg)
	return c
}

// fillCondition is condition into c (buildChannels carves them from a slab).
func (p *pass) fillCondition(c *metav1.Condition, svc *corev1.Service, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	*c = metav1.Condition{Type: p.keys.AcceptedCondition, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: svc.Generation, LastTransitionTime: p.opts.Now}
	for _, old := range svc.Status.Conditions {
		if old.Type == c.Type && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
	}
}
