package e2e

// Ownership and precedence (SPEC §2, §3), on the real API server with the real
// agent binary. Each test has its own namespace and agent; none runs in parallel
// (an agent watches every namespace).

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Default, explicit and automatic mappings land on the mux exactly as the
// contract's table says, with NodePorts, annotations and state to match.
func TestDefaultExplicitAndAutoMappingsLandOnTheMux(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
	w.createChannel("web", "mux", nil, chanTCP("http", 8080))
	w.createChannel("pinned", "mux", map[string]string{w.key("external-ports"): "http:30080"}, chanTCP("http", 80))
	w.createChannel("dyn", "mux", map[string]string{w.key("external-ports"): "http:auto"},
		chanTCP("http", 8081), chanTCP("metrics", 9100)) // metrics is not listed: default
	a := w.startAgent()

	mux := w.waitMuxPorts("mux",
		w.hp("web", "http", 8080),
		w.hp("dyn", "metrics", 9100),
		w.hp("dyn", "http", 20000),
		w.hp("pinned", "http", 30080),
	)
	w.waitAccepted("web", "http:8080->8080")
	w.waitAccepted("pinned", "http:80->30080")
	w.waitAccepted("dyn", "http:8081->20000, metrics:9100->9100")

	seen := map[int32]bool{}
	for _, p := range mux.Spec.Ports {
		if seen[p.NodePort] {
			t.Errorf("NodePort %d assigned twice: %+v", p.NodePort, mux.Spec.Ports)
		}
		seen[p.NodePort] = true
	}

	w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		stateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		stateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true},
		stateClaim{Service: "dyn", PortName: "metrics", Protocol: "TCP", ChannelPort: 9100, MuxPort: 9100},
	))

	// The mux's agent-owned annotations.
	m := w.svc("mux")
	wantChannels := fmt.Sprintf(`["%[1]s/dyn", "%[1]s/pinned", "%[1]s/web"]`, w.ns)
	if got := m.Annotations[w.key("channels")]; got != wantChannels {
		t.Errorf("channels annotation %q, want %q", got, wantChannels)
	}
	if got, want := m.Annotations[w.key("summary")], "3 channel(s) | 4 port(s) | 0 pod(s) | DNS: pending"; got != want {
		t.Errorf("summary annotation %q, want %q", got, want)
	}
	wantTopology := strings.Join([]string{
		"Channels:",
		"  - " + w.ns + "/dyn", "    DNS: pending", "    Ports: http:8081->20000 metrics:9100->9100", "    Backend: 0 pod(s) ready",
		"  - " + w.ns + "/pinned", "    DNS: pending", "    Ports: http:80->30080", "    Backend: 0 pod(s) ready",
		"  - " + w.ns + "/web", "    DNS: pending", "    Ports: http:8080->8080", "    Backend: 0 pod(s) ready",
		"", "Summary: 3 channel(s), 4 port(s), 0 backend pod(s)",
	}, "\n")
	if got := m.Annotations[w.key("topology")]; got != wantTopology {
		t.Errorf("topology annotation:\n%s\nwant:\n%s", got, wantTopology)
	}
	w.waitEvent("mux", "Normal", "MuxPortsChanged",
		"Added 4 port(s): 8080/TCP, 9100/TCP, 20000/TCP, 30080/TCP; Removed 1 port(s): 101/TCP")
	if t.Failed() {
		t.Log(agentLogTail(a))
	}
}

// A persisted owner keeps its port against a newcomer that sorts before it,
// and still does after the agent restarts.
func TestPersistedOwnerBeatsANewcomerThatSortsFirst(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", nil)
	a := w.startAgent()
	w.createChannel("zz", "mux", nil, chanTCP("http", 20000))
	w.waitAccepted("zz", "http:20000->20000")
	owner := w.hp("zz", "http", 20000)
	w.waitMuxPorts("mux", owner)
	w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "zz", PortName: "http", Protocol: "TCP", ChannelPort: 20000, MuxPort: 20000}))

	w.createChannel("aa", "mux", map[string]string{w.key("external-ports"): "http:20000"}, chanTCP("http", 80))
	wantMsg := fmt.Sprintf("20000/TCP is already claimed by %s/zz:%s", w.ns, owner.Name)

	check := func(phase string) {
		t.Helper()
		aa := w.waitRefused("aa", "MuxPortConflict", wantMsg)
		w.assertNoPortsAnnotation(aa)
		if len(aa.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("%s: rejected aa has ingress %v", phase, aa.Status.LoadBalancer.Ingress)
		}
		w.waitEvent("aa", "Warning", "MuxPortConflict", wantMsg)
		w.waitAccepted("zz", "http:20000->20000")
		w.waitMuxPorts("mux", owner)
		w.waitState("mux", w.stateDocument("mux",
			stateClaim{Service: "zz", PortName: "http", Protocol: "TCP", ChannelPort: 20000, MuxPort: 20000}))
	}
	check("first agent")
	settleWrites(t, a, time.Second)
	before := w.svc("mux")

	a.Stop()
	a2 := w.startAgent()
	settleWrites(t, a2, 2*time.Second)
	check("after restart")
	after := w.svc("mux")
	if !reflect.DeepEqual(nodePortsByName(before), nodePortsByName(after)) {
		t.Errorf("NodePorts moved across restart: %v -> %v", nodePortsByName(before), nodePortsByName(after))
	}
	t.Logf("writes by the restarted agent: %d (events re-posted on aa: %s)", a2.Writes(t), eventsText(w.eventsFor("aa")))
	if t.Failed() {
		t.Log(agentLogTail(a2))
	}
}

// A rejected explicit newcomer never pushes an auto owner elsewhere — not
// while the state holds the owner's claim, and not after the state is lost
// (the Python controller reserves static requests first and would move it).
func TestARejectedExplicitNewcomerMovesNoAutoOwner(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
	a := w.startAgent()
	w.createChannel("owner", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8080))
	w.waitAccepted("owner", "http:8080->20000")
	owner := w.hp("owner", "http", 20000)
	nodePort := w.waitMuxPorts("mux", owner).Spec.Ports[0].NodePort
	ownerState := w.stateDocument("mux",
		stateClaim{Service: "owner", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true})
	w.waitState("mux", ownerState)

	w.createChannel("aa", "mux", map[string]string{w.key("external-ports"): "http:20000"}, chanTCP("http", 80))
	wantMsg := fmt.Sprintf("20000/TCP is already claimed by %s/owner:%s", w.ns, owner.Name)
	check := func() {
		t.Helper()
		w.assertNoPortsAnnotation(w.waitRefused("aa", "MuxPortConflict", wantMsg))
		w.waitAccepted("owner", "http:8080->20000")
		if got := w.waitMuxPorts("mux", owner).Spec.Ports[0].NodePort; got != nodePort {
			t.Errorf("owner's NodePort moved: %d -> %d", nodePort, got)
		}
		w.waitState("mux", ownerState)
	}
	check()
	w.waitEvent("aa", "Warning", "MuxPortConflict", wantMsg)

	// State loss: the owner is recovered from the live mux port, and still wins.
	settleWrites(t, a, time.Second)
	if err := w.c.CoreV1().ConfigMaps(w.ns).Delete(w.ctx(), stateCMName("mux"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check()
	if t.Failed() {
		t.Log(agentLogTail(a))
	}
}

// max-ports admits existing owners first: a newcomer that sorts first is
// refused and the owners keep their ports.
func TestMaxPortsAdmitsOwnersBeforeANewcomerThatSortsFirst(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", map[string]string{w.key("max-ports"): "2"})
	a := w.startAgent()
	w.createChannel("m1", "mux", nil, chanTCP("http", 8081))
	w.createChannel("m2", "mux", nil, chanTCP("http", 8082))
	w.waitAccepted("m1", "http:8081->8081")
	w.waitAccepted("m2", "http:8082->8082")
	owners := []pubPort{w.hp("m1", "http", 8081), w.hp("m2", "http", 8082)}
	before := nodePortsByName(w.waitMuxPorts("mux", owners...))

	w.createChannel("a0", "mux", nil, chanTCP("http", 8080))
	wantMsg := fmt.Sprintf("mux %s/mux is limited to 2 port(s) and serves 2; channel %s/a0 needs 1 more", w.ns, w.ns)
	w.assertNoPortsAnnotation(w.waitRefused("a0", "MuxPortLimitExceeded", wantMsg))
	w.waitEvent("a0", "Warning", "MuxPortLimitExceeded", wantMsg)
	settleWrites(t, a, time.Second)
	w.waitAccepted("m1", "http:8081->8081")
	w.waitAccepted("m2", "http:8082->8082")
	if after := nodePortsByName(w.waitMuxPorts("mux", owners...)); !reflect.DeepEqual(before, after) {
		t.Errorf("owners' NodePorts moved: %v -> %v", before, after)
	}
	w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "m1", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 8081},
		stateClaim{Service: "m2", PortName: "http", Protocol: "TCP", ChannelPort: 8082, MuxPort: 8082}))
	if t.Failed() {
		t.Log(agentLogTail(a))
	}
}

// Uniqueness is per (port, protocol): 53/TCP and 53/UDP belong to two channels.
func TestTCPAndUDPShareOnePortNumber(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", nil)
	w.createChannel("dns-tcp", "mux", nil, chanTCP("dns", 53))
	w.createChannel("dns-udp", "mux", nil, chanUDP("dns", 53))
	a := w.startAgent()
	w.waitAccepted("dns-tcp", "dns:53->53")
	w.waitAccepted("dns-udp", "dns:53->53")
	w.waitMuxPorts("mux", w.hp("dns-tcp", "dns", 53), w.hp("dns-udp", "dns", 53, corev1.ProtocolUDP))
	w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "dns-tcp", PortName: "dns", Protocol: "TCP", ChannelPort: 53, MuxPort: 53},
		stateClaim{Service: "dns-udp", PortName: "dns", Protocol: "UDP", ChannelPort: 53, MuxPort: 53}))
	if t.Failed() {
		t.Log(agentLogTail(a))
	}
}

// A second agent process started after the first stops writes nothing and
// moves nothing: every object keeps its resourceVersion.
func TestARestartedAgentMakesZeroWritesAndMovesNoPort(t *testing.T) {
	w := newMuxWorld(t)
	w.waitOtherNamespacesGone()
	w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
	w.createChannel("web", "mux", nil, chanTCP("http", 8080))
	w.createChannel("pinned", "mux", map[string]string{w.key("external-ports"): "http:30080"}, chanTCP("http", 80))
	w.createChannel("dyn", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8081))
	a1 := w.startAgent()
	w.waitMuxPorts("mux", w.hp("web", "http", 8080), w.hp("dyn", "http", 20000), w.hp("pinned", "http", 30080))
	w.waitAccepted("web", "http:8080->8080")
	w.waitAccepted("pinned", "http:80->30080")
	w.waitAccepted("dyn", "http:8081->20000")
	w.waitState("mux", w.stateDocument("mux",
		stateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		stateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		stateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true}))
	settleWrites(t, a1, 1500*time.Millisecond)

	type snapshot struct {
		mux      *corev1.Service
		versions map[string]string
		events   int
	}
	take := func() snapshot {
		s := snapshot{mux: w.svc("mux"), versions: map[string]string{}}
		for _, name := range []string{"mux", "web", "pinned", "dyn"} {
			s.versions["service/"+name] = w.svc(name).ResourceVersion
		}
		s.versions["configmap"] = w.stateCM("mux").ResourceVersion
		for name, rv := range w.sliceVersions("mux") {
			s.versions["endpointslice/"+name] = rv
		}
		evs, err := w.c.CoreV1().Events(w.ns).List(w.ctx(), metav1.ListOptions{})
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

	a2 := w.startAgent()
	time.Sleep(3 * time.Second)
	if n := a2.Writes(t); n != 0 {
		t.Errorf("restarted agent made %d write(s), want 0\n%s", n, agentLogTail(a2))
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
