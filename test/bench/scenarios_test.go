package bench

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
)

// scenario is one measurement: muxes × perMux one-port channels.
type scenario struct {
	name   string
	muxes  int
	perMux int
	// cold: the channels exist before the agent starts (an agent restart, or
	// installing svcmux on a cluster full of channels), and convergence is timed
	// from its process start and from its first LIST. Otherwise the agent runs
	// first and the channels are created as fast as the API server takes them,
	// timed from the last create.
	cold bool
	// churn, after the cold start has converged: for churnFor, churnRate channels
	// a second are created and as many deleted (the count stays the same), and
	// convergence is timed from the last of those answered.
	churnRate int
	churnFor  time.Duration
}

func (s scenario) channels() int { return s.muxes * s.perMux }

// churnOps is how many channels the churn creates (and deletes).
func (s scenario) churnOps() int { return int(float64(s.churnRate) * s.churnFor.Seconds()) }

// benchScenarios are the production sizes of `make bench-e2e` (issue 17): 1,000
// and 3,000 channels on one mux, 5,000 over 50 muxes, 2,000 over 20 under churn
// at 50 creates and 50 deletes a second; and 100 and 1,000 on one mux created
// while the agent runs.
var benchScenarios = []scenario{
	{name: "a-100x1", muxes: 1, perMux: 100},
	{name: "b-1000x1", muxes: 1, perMux: 1000},
	{name: "b-1000x1-cold", muxes: 1, perMux: 1000, cold: true},
	{name: "c-3000x1-cold", muxes: 1, perMux: 3000, cold: true},
	{name: "d-5000x50-cold", muxes: 50, perMux: 100, cold: true},
	{name: "e-2000x20-churn", muxes: 20, perMux: 100, cold: true, churnRate: 50, churnFor: 30 * time.Second},
}

// smallScenarios are one small case of each kind, run by `make test`.
var smallScenarios = []scenario{
	{name: "a-100x1", muxes: 1, perMux: 100},
	{name: "a-100x1-cold", muxes: 1, perMux: 100, cold: true},
	{name: "d-200x4-cold", muxes: 4, perMux: 50, cold: true},
	{name: "e-200x4-churn", muxes: 4, perMux: 50, cold: true, churnRate: 50, churnFor: 2 * time.Second},
}

const (
	// workers is the client concurrency of the floor and of creating channels.
	workers = 16
	// basePort is the first channel port. Channels are dealt to the muxes in
	// turn: channel i is on mux i%muxes with port basePort+i/muxes, so a channel
	// the churn creates never reuses a port a deleted one had (no conflict to
	// wait out), and the mux public port is the same (default mapping).
	basePort   = 10000
	portName   = "p"
	floorClass = "bench.invalid/floor" // not svcmux's prefix: the agent ignores these
	benchField = "svcmux-bench"
	convergeBy = 15 * time.Minute
)

var keys = api.NewKeys(api.DefaultPrefix)

// floorKeys name the floor's annotation and condition: the same shapes under
// another prefix. With svcmux's own keys the agent would (rightly) take the
// throwaway Services for former channels and strip them.
var floorKeys = api.NewKeys("floor.svc-mux.invalid")

// writeKinds are the values of svcmux_writes_total's kind label.
var writeKinds = []string{"channel", "mux", "state", "endpointslice", "endpoints"}

// minWrites is what one converging pass per mux cannot do with less: per
// channel one status write, which carries the ports annotation (pkg/apply
// Carried); per mux one patch of spec.ports and annotations and one write of the
// state ConfigMap (the create on a cold start). The channels have no pods, so no
// mux endpoints change.
func minWrites(channels, muxes int) int { return channels + 2*muxes }

// --- objects -----------------------------------------------------------------

func muxName(m int) string { return fmt.Sprintf("mux-%02d", m) }

func muxService(ns, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{keys.Multiplexer: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
}

func channelName(i int) string { return fmt.Sprintf("ch-%05d", i) }

func muxOf(sc scenario, i int) string { return muxName(i % sc.muxes) }

func portOf(sc scenario, i int) int32 { return int32(basePort + i/sc.muxes) }

// oneShape is the Service both the channels and the floor's throwaway Services
// have: LoadBalancer, no node ports, a selector, one named port.
func oneShape(ns, name, class string, port int32) *corev1.Service {
	allocate := false
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass:             &class,
			AllocateLoadBalancerNodePorts: &allocate,
			Selector:                      map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: portName, Port: port, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func channelService(ns string, sc scenario, i int) *corev1.Service {
	return oneShape(ns, channelName(i), keys.ClassPrefix()+muxOf(sc, i)+"."+ns, portOf(sc, i))
}
