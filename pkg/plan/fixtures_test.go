package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/internal/fixture"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// Test fixtures: small builders so a table row reads like the situation it sets up.

var (
	testKeys = fixture.Keys
	testNow  = fixture.Now
	testOpts = Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux", Now: testNow}
)

type svcOpt = fixture.Opt

// mux is the test mux svc-mux/mux (uid mux-uid) with the placeholder port.
func mux(opts ...svcOpt) *corev1.Service {
	return fixture.Mux("svc-mux/mux", append([]svcOpt{fixture.UID("mux-uid")}, opts...)...)
}

// channel builds ns/name of the test mux with "name:port" TCP ports (or
// "name:port/UDP"; "-" for no name), its uid the ref.
func channel(ref string, portSpecs ...string) *corev1.Service {
	return fixture.Channel(ref, "mux", fixture.Ports(portSpecs...), fixture.UID(ref))
}

func withAnn(svc *corev1.Service, k, v string) *corev1.Service {
	svc.Annotations[k] = v
	return svc
}

func muxAnn(k, v string) svcOpt { return fixture.Annotate(k, v) }

func muxPorts(ps ...corev1.ServicePort) svcOpt { return func(s *corev1.Service) { s.Spec.Ports = ps } }

func muxIngress(ip string) svcOpt {
	return func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	}
}

// sp is a mux port for the identity ns/svc/port.
func sp(ns, svc, port string, n int32, proto corev1.Protocol) corev1.ServicePort {
	return corev1.ServicePort{Name: ports.MuxPortName(ns, svc, port), Port: n, Protocol: proto}
}

func stateCM(raw string) *corev1.ConfigMap { return fixture.StateConfigMap("svc-mux/mux", raw) }

// slice builds a channel EndpointSlice with one port and endpoints "ip" (ready),
// "ip!" (not ready), "ip~" (terminating).
func slice(ref, name, portName string, port int32, eps ...string) *discoveryv1.EndpointSlice {
	return fixture.Slice(ref, name, portName, port, eps...)
}

// compute runs Compute and checks it did not touch its input.
func compute(t *testing.T, s Snapshot, o ...Options) Plan {
	t.Helper()
	opts := testOpts
	if len(o) > 0 {
		opts = o[0]
	}
	before := deepCopySnapshot(s)
	p := Compute(s, opts)
	require.True(t, equality.Semantic.DeepEqual(before, deepCopySnapshot(s)), "Compute mutated its input")
	checkInvariants(t, p)
	return p
}

// checkInvariants asserts what holds for every plan, whatever the input.
func checkInvariants(t *testing.T, p Plan) {
	t.Helper()
	normal := map[string]bool{api.ReasonMuxPortsChanged: true, api.ReasonMuxAnnotationsUpdated: true,
		api.ReasonMuxEndpointsCreated: true, api.ReasonMuxEndpointsChanged: true}
	for _, e := range p.Events {
		want := api.EventWarning
		if normal[e.Reason] {
			want = api.EventNormal
		}
		assert.Equal(t, want, e.Type, "event type of %s", e.Reason)
		assert.NotEmpty(t, e.Message, "event %s has a message", e.Reason)
	}
	if p.Frozen {
		return
	}
	// Mux ports: sorted by (port, protocol), unique, uniquely named, name/port/protocol
	// only, and a remembered nodePort on a port being restored.
	names := map[string]bool{}
	for i, x := range p.Ports {
		assert.Equal(t, corev1.ServicePort{Name: x.Name, Port: x.Port, Protocol: x.Protocol, NodePort: x.NodePort}, x)
		assert.False(t, names[x.Name], "mux port name %s is used twice", x.Name)
		names[x.Name] = true
		if i > 0 {
			prev := p.Ports[i-1]
			assert.True(t, prev.Port < x.Port || (prev.Port == x.Port && prev.Protocol < x.Protocol), "mux ports sorted by (port, protocol)")
		}
	}
	served := 0
	for i, o := range p.Channels {
		if i > 0 {
			assert.True(t, refLess(p.Channels[i-1].Channel, o.Channel), "outcomes in namespace/name order")
		}
		require.NotNil(t, o.Condition, "%s has a condition", o.Channel)
		assert.Equal(t, o.Accepted, o.Condition.Status == metav1.ConditionTrue)
		assert.False(t, o.Accepted && o.Kept)
		if !o.Serving() {
			assert.Nil(t, o.PortsAnnotation, "%s serves nothing: no ports annotation", o.Channel)
			assert.Nil(t, o.Ingress, "%s serves nothing: no ingress", o.Channel)
			assert.Empty(t, o.Mappings)
		}
		if o.Accepted {
			assert.Equal(t, ports.FormatPortsAnnotation(o.Mappings), annotation(o))
		}
		served += len(o.Mappings)
	}
	if served > 0 {
		assert.Equal(t, served, len(p.Ports), "every served mapping is one mux port")
		assert.Equal(t, served, p.Stats.Ports)
		assert.Equal(t, served, len(p.State.Document.Claims), "every served port has its claim")
	} else {
		assert.Equal(t, placeholderPorts(), p.Ports)
	}
	for i, s := range p.Slices {
		assert.LessOrEqual(t, len(s.Endpoints), api.MaxEndpointsPerSlice)
		if i > 0 {
			assert.Less(t, p.Slices[i-1].Name, s.Name, "slices sorted by unique name")
		}
	}
}

func deepCopySnapshot(s Snapshot) Snapshot {
	c := s.DeepCopy()
	c.NodePortHolder = nil // funcs never compare equal
	return c
}

// outcome finds a channel's outcome by "ns/name".
func outcome(t *testing.T, p Plan, ref string) ChannelOutcome {
	t.Helper()
	for _, o := range p.Channels {
		if o.Channel.String() == ref {
			return o
		}
	}
	t.Fatalf("no outcome for %s", ref)
	return ChannelOutcome{}
}

// portList renders mux ports as "20000/TCP=hash" strings for exact comparison.
func portList(p Plan) []string {
	var out []string
	for _, x := range p.Ports {
		out = append(out, fmt.Sprintf("%d/%s=%s", x.Port, x.Protocol, x.Name))
	}
	return out
}

// served renders "ns/name" → its ports annotation, or "-" when absent.
func annotation(o ChannelOutcome) string {
	if o.PortsAnnotation == nil {
		return "-"
	}
	return *o.PortsAnnotation
}

func reasons(p Plan, obj string) []string {
	var out []string
	for _, e := range p.Events {
		if e.Object.String() == obj {
			out = append(out, e.Reason)
		}
	}
	return out
}

// --- helpers added with the planner suite ---

// hash7 is SPEC §2's mux port name, computed here independently of pkg/ports:
// the first 7 hex characters of SHA-256("namespace/service/portName").
func hash7(ns, svc, port string) string {
	sum := sha256.Sum256([]byte(ns + "/" + svc + "/" + port))
	return hex.EncodeToString(sum[:])[:7]
}

// muxPort renders one expected portList entry: "20000/TCP=<hash of ref/port>".
func muxPort(n int32, proto corev1.Protocol, ref, portName string) string {
	ns, svc, _ := strings.Cut(ref, "/")
	return fmt.Sprintf("%d/%s=%s", n, proto, hash7(ns, svc, portName))
}

// owner is the "ns/name:hash" form conflict messages use.
func owner(ref, portName string) string {
	ns, svc, _ := strings.Cut(ref, "/")
	return ref + ":" + hash7(ns, svc, portName)
}

// claim builds a persisted claim of ref's port portName.
func claim(ref, portName string, proto corev1.Protocol, channelPort, muxPort int32, source string) state.Claim {
	return fixture.Claim(ref, portName, proto, channelPort, muxPort, source)
}

// stateOf is the state ConfigMap of the test mux holding claims.
func stateOf(claims ...state.Claim) *corev1.ConfigMap {
	return fixture.StateOf("svc-mux/mux", claims...)
}

// withPorts sets the agent's ports annotation on a channel, as a previous pass left it.
func withPorts(svc *corev1.Service, v string) *corev1.Service {
	return withAnn(svc, testKeys.Ports, v)
}

func withIngress(svc *corev1.Service, ip string) *corev1.Service {
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	return svc
}

func channels(cs ...*corev1.Service) []*corev1.Service { return cs }

func slices(ss ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return ss }

// events returns the plan's Events about obj with reason.
func events(p Plan, obj, reason string) []Event {
	var out []Event
	for _, e := range p.Events {
		if e.Object.String() == obj && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// message is the message of the one Event about obj with reason.
func message(t *testing.T, p Plan, obj, reason string) string {
	t.Helper()
	evs := events(p, obj, reason)
	require.Len(t, evs, 1, "events %s about %s in %+v", reason, obj, p.Events)
	return evs[0].Message
}

// claimsOf renders the planned state document's claims as "KEY=muxPort/source".
func claimsOf(p Plan) []string {
	var out []string
	for _, c := range p.State.Document.Claims {
		out = append(out, fmt.Sprintf("%s=%d/%s", c.Key(), c.MuxPort, c.Source))
	}
	return out
}

// applied is the snapshot the cluster shows after the agent applied p to s: the
// next pass of a level-triggered controller starts from it. It is apply.Simulate
// over apply.Diff — the agent's own writes, done by the one simulator the plugin
// and the apply tests use — installed by simulate_test.go (package plan_test: this
// package cannot import apply, which imports it).
func applied(s Snapshot, p Plan) Snapshot { return simulate(s, p) }

// simulate is set by simulate_test.go before any test runs.
var simulate func(Snapshot, Plan) Snapshot

// resultingAnnotations is the mux's annotations once p is applied.
func resultingAnnotations(live map[string]string, p Plan) map[string]string {
	out := map[string]string{}
	for k, v := range live {
		out[k] = v
	}
	for k, v := range p.Annotations {
		out[k] = v
	}
	for _, k := range p.RemoveAnnotations {
		delete(out, k)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
