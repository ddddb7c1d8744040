package e2e

// Ownership and precedence (SPEC §2, §3), on the real API server with the real
// agent binary. Each test has its own namespace and agent; none runs in parallel
// (an agent watches every namespace).

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// Default, explicit and automatic mappings land on the mux exactly as the
// contract's table says, with NodePorts, annotations and state to match.
func TestDefaultExplicitAndAutoMappingsLandOnTheMux(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
	w.CreateChannel("web", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("pinned", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, world.TCP("http", 80))
	w.CreateChannel("dyn", "mux", map[string]string{w.Key("external-ports"): "http:auto"},
		world.TCP("http", 8081), world.TCP("metrics", 9100)) // metrics is not listed: default
	a := w.StartAgent()

	mux := w.WaitMuxPortsAssigned("mux",
		w.MuxPort("web", "http", 8080),
		w.MuxPort("dyn", "metrics", 9100),
		w.MuxPort("dyn", "http", 20000),
		w.MuxPort("pinned", "http", 30080),
	)
	w.WaitAccepted("web", "http:8080->8080")
	w.WaitAccepted("pinned", "http:80->30080")
	w.WaitAccepted("dyn", "http:8081->20000, metrics:9100->9100")

	seen := map[int32]bool{}
	for _, p := range mux.Spec.Ports {
		if seen[p.NodePort] {
			t.Errorf("NodePort %d assigned twice: %+v", p.NodePort, mux.Spec.Ports)
		}
		seen[p.NodePort] = true
	}

	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		world.StateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		world.StateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true},
		world.StateClaim{Service: "dyn", PortName: "metrics", Protocol: "TCP", ChannelPort: 9100, MuxPort: 9100},
	))

	// The mux's agent-owned annotations.
	m := w.Service("mux")
	wantChannels := fmt.Sprintf(`["%[1]s/dyn", "%[1]s/pinned", "%[1]s/web"]`, w.Namespace)
	if got := m.Annotations[w.Key("channels")]; got != wantChannels {
		t.Errorf("channels annotation %q, want %q", got, wantChannels)
	}
	if got, want := m.Annotations[w.Key("summary")], "3 channel(s) | 4 port(s) | 0 pod(s) | DNS: pending"; got != want {
		t.Errorf("summary annotation %q, want %q", got, want)
	}
	wantTopology := strings.Join([]string{
		"Channels:",
		"  - " + w.Namespace + "/dyn", "    DNS: pending", "    Ports: http:8081->20000 metrics:9100->9100", "    Backend: 0 pod(s) ready",
		"  - " + w.Namespace + "/pinned", "    DNS: pending", "    Ports: http:80->30080", "    Backend: 0 pod(s) ready",
		"  - " + w.Namespace + "/web", "    DNS: pending", "    Ports: http:8080->8080", "    Backend: 0 pod(s) ready",
		"", "Summary: 3 channel(s), 4 port(s), 0 backend pod(s)",
	}, "\n")
	if got := m.Annotations[w.Key("topology")]; got != wantTopology {
		t.Errorf("topology annotation:\n%s\nwant:\n%s", got, wantTopology)
	}
	w.WaitEvent("mux", "Normal", "MuxPortsChanged",
		"Added 4 port(s): 8080/TCP, 9100/TCP, 20000/TCP, 30080/TCP; Removed 1 port(s): 101/TCP")
	if t.Failed() {
		t.Log("agent log:\n" + a.LogTail(40))
	}
}

// A persisted owner keeps its port against a newcomer that sorts before it,
// and still does after the agent restarts.
func TestPersistedOwnerBeatsANewcomerThatSortsFirst(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	a := w.StartAgent()
	w.CreateChannel("zz", "mux", nil, world.TCP("http", 20000))
	w.WaitAccepted("zz", "http:20000->20000")
	owner := w.MuxPort("zz", "http", 20000)
	w.WaitMuxPortsAssigned("mux", owner)
	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "zz", PortName: "http", Protocol: "TCP", ChannelPort: 20000, MuxPort: 20000}))

	w.CreateChannel("aa", "mux", map[string]string{w.Key("external-ports"): "http:20000"}, world.TCP("http", 80))
	wantMsg := fmt.Sprintf("20000/TCP is already claimed by %s/zz:%s", w.Namespace, owner.Name)

	check := func(phase string) {
		t.Helper()
		aa := w.WaitRejected("aa", "MuxPortConflict", wantMsg)
		w.NoPortsAnnotation(aa)
		if len(aa.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("%s: rejected aa has ingress %v", phase, aa.Status.LoadBalancer.Ingress)
		}
		w.WaitEvent("aa", "Warning", "MuxPortConflict", wantMsg)
		w.WaitAccepted("zz", "http:20000->20000")
		w.WaitMuxPortsAssigned("mux", owner)
		w.WaitStateDoc("mux", w.StateDocument("mux",
			world.StateClaim{Service: "zz", PortName: "http", Protocol: "TCP", ChannelPort: 20000, MuxPort: 20000}))
	}
	check("first agent")
	w.AwaitPass(a, "mux")
	before := w.Service("mux")

	a.Stop()
	a2 := w.StartAgent()
	w.AwaitPasses(a2, "mux", 1) // the restarted agent's first pass has ended
	check("after restart")
	after := w.Service("mux")
	if !reflect.DeepEqual(world.NodePorts(before), world.NodePorts(after)) {
		t.Errorf("NodePorts moved across restart: %v -> %v", world.NodePorts(before), world.NodePorts(after))
	}
	t.Logf("writes by the restarted agent: %d (events re-posted on aa: %s)", a2.Writes(t), world.EventsText(w.Events("aa")))
	if t.Failed() {
		t.Log("agent log:\n" + a2.LogTail(40))
	}
}

// A rejected explicit newcomer never pushes an auto owner elsewhere — not
// while the state holds the owner's claim, and not after the state is lost
// (the Python controller reserves static requests first and would move it).
func TestARejectedExplicitNewcomerMovesNoAutoOwner(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
	a := w.StartAgent()
	w.CreateChannel("owner", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8080))
	w.WaitAccepted("owner", "http:8080->20000")
	owner := w.MuxPort("owner", "http", 20000)
	nodePort := w.WaitMuxPortsAssigned("mux", owner).Spec.Ports[0].NodePort
	ownerState := w.StateDocument("mux",
		world.StateClaim{Service: "owner", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true})
	w.WaitStateDoc("mux", ownerState)

	w.CreateChannel("aa", "mux", map[string]string{w.Key("external-ports"): "http:20000"}, world.TCP("http", 80))
	wantMsg := fmt.Sprintf("20000/TCP is already claimed by %s/owner:%s", w.Namespace, owner.Name)
	check := func() {
		t.Helper()
		w.NoPortsAnnotation(w.WaitRejected("aa", "MuxPortConflict", wantMsg))
		w.WaitAccepted("owner", "http:8080->20000")
		if got := w.WaitMuxPortsAssigned("mux", owner).Spec.Ports[0].NodePort; got != nodePort {
			t.Errorf("owner's NodePort moved: %d -> %d", nodePort, got)
		}
		w.WaitStateDoc("mux", ownerState)
	}
	check()
	w.WaitEvent("aa", "Warning", "MuxPortConflict", wantMsg)

	// State loss: the owner is recovered from the live mux port, and still wins.
	w.AwaitPass(a, "mux")
	w.DeleteConfigMap(world.StateName("mux"))
	check()
	if t.Failed() {
		t.Log("agent log:\n" + a.LogTail(40))
	}
}

// max-ports admits existing owners first: a newcomer that sorts first is
// refused and the owners keep their ports.
func TestMaxPortsAdmitsOwnersBeforeANewcomerThatSortsFirst(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("max-ports"): "2"})
	a := w.StartAgent()
	w.CreateChannel("m1", "mux", nil, world.TCP("http", 8081))
	w.CreateChannel("m2", "mux", nil, world.TCP("http", 8082))
	w.WaitAccepted("m1", "http:8081->8081")
	w.WaitAccepted("m2", "http:8082->8082")
	owners := []world.Port{w.MuxPort("m1", "http", 8081), w.MuxPort("m2", "http", 8082)}
	before := world.NodePorts(w.WaitMuxPortsAssigned("mux", owners...))

	w.CreateChannel("a0", "mux", nil, world.TCP("http", 8080))
	wantMsg := fmt.Sprintf("mux %s/mux is limited to 2 port(s) and serves 2; channel %s/a0 needs 1 more", w.Namespace, w.Namespace)
	w.NoPortsAnnotation(w.WaitRejected("a0", "MuxPortLimitExceeded", wantMsg))
	w.WaitEvent("a0", "Warning", "MuxPortLimitExceeded", wantMsg)
	w.AwaitPass(a, "mux")
	w.WaitAccepted("m1", "http:8081->8081")
	w.WaitAccepted("m2", "http:8082->8082")
	if after := world.NodePorts(w.WaitMuxPortsAssigned("mux", owners...)); !reflect.DeepEqual(before, after) {
		t.Errorf("owners' NodePorts moved: %v -> %v", before, after)
	}
	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "m1", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 8081},
		world.StateClaim{Service: "m2", PortName: "http", Protocol: "TCP", ChannelPort: 8082, MuxPort: 8082}))
	if t.Failed() {
		t.Log("agent log:\n" + a.LogTail(40))
	}
}

// Uniqueness is per (port, protocol): 53/TCP and 53/UDP belong to two channels.
func TestTCPAndUDPShareOnePortNumber(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("dns-tcp", "mux", nil, world.TCP("dns", 53))
	w.CreateChannel("dns-udp", "mux", nil, world.UDP("dns", 53))
	a := w.StartAgent()
	w.WaitAccepted("dns-tcp", "dns:53->53")
	w.WaitAccepted("dns-udp", "dns:53->53")
	w.WaitMuxPortsAssigned("mux", w.MuxPort("dns-tcp", "dns", 53), w.MuxPort("dns-udp", "dns", 53, corev1.ProtocolUDP))
	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "dns-tcp", PortName: "dns", Protocol: "TCP", ChannelPort: 53, MuxPort: 53},
		world.StateClaim{Service: "dns-udp", PortName: "dns", Protocol: "UDP", ChannelPort: 53, MuxPort: 53}))
	if t.Failed() {
		t.Log("agent log:\n" + a.LogTail(40))
	}
}

// A second agent process started after the first stops writes nothing and
// moves nothing: every object keeps its resourceVersion.
func TestARestartedAgentMakesZeroWritesAndMovesNoPort(t *testing.T) {
	w := world.New(t)
	w.Quiet()
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
	w.CreateChannel("web", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("pinned", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, world.TCP("http", 80))
	w.CreateChannel("dyn", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8081))
	a1 := w.StartAgent()
	w.WaitMuxPortsAssigned("mux", w.MuxPort("web", "http", 8080), w.MuxPort("dyn", "http", 20000), w.MuxPort("pinned", "http", 30080))
	w.WaitAccepted("web", "http:8080->8080")
	w.WaitAccepted("pinned", "http:80->30080")
	w.WaitAccepted("dyn", "http:8081->20000")
	w.WaitStateDoc("mux", w.StateDocument("mux",
		world.StateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		world.StateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		world.StateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true}))
	w.AwaitPass(a1, "mux") // after the pokes: every version below is final

	type snapshot struct {
		mux      *corev1.Service
		versions map[string]string
		events   int
	}
	take := func() snapshot {
		s := snapshot{mux: w.Service("mux"), versions: map[string]string{}}
		for _, name := range []string{"mux", "web", "pinned", "dyn"} {
			s.versions["service/"+name] = w.Service(name).ResourceVersion
		}
		s.versions["configmap"] = w.State("mux").ResourceVersion
		for name, rv := range w.SliceVersions("mux") {
			s.versions["endpointslice/"+name] = rv
		}
		evs, err := w.Client.CoreV1().Events(w.Namespace).List(w.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			s.events += int(e.Count)
		}
		return s
	}
	before := take()
	a1.Stop()

	a2 := w.StartAgent()
	// The positive signal, without a poke (every version must stay): the
	// restarted agent's first pass of the mux, from its informers' first list,
	// has ended, and with it every write and Event it wanted.
	w.AwaitPasses(a2, "mux", 1)
	if n := a2.Writes(t); n != 0 {
		t.Errorf("restarted agent made %d write(s), want 0\n%s", n, "agent log:\n"+a2.LogTail(40))
	}
	// Counted as the agent hands them to the recorder, which posts them later.
	if n, err := a2.Metric("svcmux_events_total"); err != nil || n != 0 {
		t.Errorf("restarted agent posted %v event(s) (%v), want 0", n, err)
	}
	after := take()
	if !reflect.DeepEqual(before.mux.Spec.Ports, after.mux.Spec.Ports) {
		t.Errorf("mux ports moved across restart:\n%+v\n%+v", before.mux.Spec.Ports, after.mux.Spec.Ports)
	}
	if !reflect.DeepEqual(before.versions, after.versions) {
		t.Errorf("objects changed across restart:\n%v\n%v", before.versions, after.versions)
	}
	if before.events != after.events {
		t.Errorf("restarted agent posted events: %d -> %d", before.events, after.events)
	}
	t.Logf("restart writes: %d; objects unchanged: %v", a2.Writes(t), reflect.DeepEqual(before.versions, after.versions))
}
