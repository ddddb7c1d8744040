package apply

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/internal/fixture"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// Small builders so a table row reads like the situation it sets up. The mux is
// svc-mux/mux with a load balancer at 203.0.113.10; channels name it by class.

var (
	testKeys = fixture.Keys
	testNow  = fixture.Now
	testOpts = plan.Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux", Now: testNow}
)

const (
	muxIP     = "203.0.113.10"
	muxRV     = "10"
	channelRV = "20"
	stateRV   = "40"
)

type svcOpt = fixture.Opt

// newMux is the test mux svc-mux/mux with its load balancer at muxIP.
func newMux(opts ...svcOpt) *corev1.Service {
	return fixture.Mux("svc-mux/mux", append([]svcOpt{fixture.UID("mux-uid"), fixture.ResourceVersion(muxRV), fixture.Ingress(muxIP)}, opts...)...)
}

func withAnnotation(k, v string) svcOpt { return fixture.Annotate(k, v) }

func withFinalizers(f ...string) svcOpt { return func(s *corev1.Service) { s.Finalizers = f } }

func withClass(class string) svcOpt {
	return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &class }
}

// withIngress gives a channel the mux address as svcmux writes it (ipMode Proxy).
func withIngress(ip string) svcOpt {
	return func(s *corev1.Service) {
		proxy := corev1.LoadBalancerIPModeProxy
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip, IPMode: &proxy}}
	}
}

func withCondition(c metav1.Condition) svcOpt {
	return func(s *corev1.Service) { s.Status.Conditions = append(s.Status.Conditions, c) }
}

// tcp is a named channel port whose backends listen on the same number.
func tcp(name string, port int32) corev1.ServicePort { return fixture.TCP(name, port) }

// newChannel builds "ns/name" attached to the test mux.
func newChannel(ref string, ps []corev1.ServicePort, opts ...svcOpt) *corev1.Service {
	return fixture.Channel(ref, "mux", ps, append([]svcOpt{fixture.UID(ref + "-uid"), fixture.ResourceVersion(channelRV)}, opts...)...)
}

// channelSlice is the cluster's EndpointSlice of channel ref with one TCP port and
// ready endpoints.
func channelSlice(ref, portName string, port int32, ips ...string) *discoveryv1.EndpointSlice {
	_, svc, _ := strings.Cut(ref, "/")
	return fixture.Slice(ref, svc+"-abcde", portName, port, ips...)
}

// apiSnapshot is the test mux with channel app/api (http:8080) and one ready backend.
func apiSnapshot() plan.Snapshot {
	return plan.Snapshot{
		Mux:           newMux(),
		Channels:      []*corev1.Service{newChannel("app/api", []corev1.ServicePort{tcp("http", 8080)})},
		ChannelSlices: []*discoveryv1.EndpointSlice{channelSlice("app/api", "http", 8080, "10.0.0.1")},
	}
}

// compute runs the real planner and checks it did not touch its input.
func compute(t *testing.T, s plan.Snapshot, o ...plan.Options) plan.Plan {
	t.Helper()
	opts := testOpts
	if len(o) > 0 {
		opts = o[0]
	}
	before := copySnapshot(s)
	p := plan.Compute(s, opts)
	require.True(t, equality.Semantic.DeepEqual(before, copySnapshot(s)), "Compute mutated its input")
	return p
}

// diff runs Diff and checks it did not touch the plan's snapshot.
func diff(t *testing.T, p plan.Plan, s plan.Snapshot) []Write {
	t.Helper()
	before := copySnapshot(s)
	w := Diff(p, s)
	require.True(t, equality.Semantic.DeepEqual(before, copySnapshot(s)), "Diff mutated the snapshot")
	requireStageOrder(t, w)
	return w
}

// copySnapshot is s.DeepCopy without its NodePort lookup: funcs never compare equal.
func copySnapshot(s plan.Snapshot) plan.Snapshot {
	c := s.DeepCopy()
	c.NodePortHolder = nil
	return c
}

// converge is the snapshot the cluster shows once the writes of p are made: the
// agent's own writes (Diff), done by the one simulator (Simulate) the plugin's
// check uses too. The next pass starts from it.
func converge(s plan.Snapshot, p plan.Plan) plan.Snapshot {
	next, err := Simulate(s, Diff(p, s))
	if err != nil {
		panic(fmt.Sprintf("the agent's own writes do not apply: %v", err))
	}
	return next
}

// converged plans s, applies the plan by hand and returns the settled snapshot.
func converged(t *testing.T, s plan.Snapshot, o ...plan.Options) plan.Snapshot {
	t.Helper()
	return converge(s, compute(t, s, o...))
}

// body decodes a JSON patch so it compares exactly as a map.
func body(t *testing.T, w Write) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Patch, &m), "patch of %s is JSON", w)
	return m
}

// jsonValue round-trips v through JSON, the form a decoded patch holds.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// only keeps the writes of kind k.
func only(ws []Write, k Kind) []Write {
	var out []Write
	for _, w := range ws {
		if w.Kind == k {
			out = append(out, w)
		}
	}
	return out
}

// shape strips payloads so the list of writes compares as sentences:
// "stage verb resource ns/name [subresource]".
type shape struct {
	Stage       Stage
	Kind        Kind
	Verb        Verb
	Resource    string
	Namespace   string
	Name        string
	Subresource string
	PatchType   types.PatchType
}

func shapes(ws []Write) []shape {
	out := []shape{}
	for _, w := range ws {
		out = append(out, shape{w.Stage, w.Kind, w.Verb, w.Resource, w.Namespace, w.Name, w.Subresource, w.PatchType})
	}
	return out
}

func muxPortName(ref, port string) string {
	ns, svc, _ := strings.Cut(ref, "/")
	return ports.MuxPortName(ns, svc, port)
}

// stateDoc is the encoded state document of the test mux holding claims.
func stateDoc(claims ...state.Claim) string {
	return state.Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}, Claims: claims}.Encode()
}

func staticClaim(ref, portName string, port int32) state.Claim {
	ns, svc, _ := strings.Cut(ref, "/")
	return state.Claim{Namespace: ns, Service: svc, PortName: portName, Protocol: corev1.ProtocolTCP,
		ChannelPort: port, MuxPort: port, Source: "static"}
}

// stateCM is the live state ConfigMap of the test mux holding raw.
func stateCM(raw string) *corev1.ConfigMap {
	cm := fixture.StateConfigMap("svc-mux/mux", raw)
	cm.ResourceVersion = stateRV
	return cm
}

// pythonEndpoints is the Endpoints object the Python controller left for the mux.
func pythonEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", ResourceVersion: "50",
			Labels: map[string]string{api.LabelManagedBy: api.AppName, api.LabelComponent: api.ComponentMuxEndpoints}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.9.9.9"}},
			Ports:     []corev1.EndpointPort{{Name: muxPortName("app/api", "http"), Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
}
