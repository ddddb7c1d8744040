package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// SPEC §10, NodePorts survive a full replace. A GitOps tool that PUTs the mux with
// its manifest's placeholder port list releases every NodePort; the agent restores
// the ports with the NodePorts it remembered in nodeports.json, so a load balancer
// that routes to NodePorts is not reprogrammed.

const argoCD = "argocd-controller"

// nodePortMux is a mux with n channels ch-00.. of one TCP port each (8000+i),
// accepted and converged, with the memory in its state ConfigMap matching the live
// NodePorts. It returns the agent and the mux ports.
func nodePortMux(t *testing.T, w *world.World, n int) (*world.Agent, []world.Port) {
	t.Helper()
	w.CreateMux("mux", nil)
	var channels []*corev1.Service
	var want []world.Port
	for i := 0; i < n; i++ {
		name, port := fmt.Sprintf("ch-%02d", i), int32(8000+i)
		ch := w.ChannelObject(name, "mux", nil, world.TCP("http", port))
		ch.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false) // the mux's NodePorts are what matter
		channels = append(channels, ch)
		want = append(want, w.MuxPort(name, "http", port))
	}
	w.CreateServices(channels)
	a := w.StartAgent()
	for i := 0; i < n; i++ {
		w.WaitAccepted(fmt.Sprintf("ch-%02d", i), fmt.Sprintf("http:%d->%d", 8000+i, 8000+i))
	}
	w.WaitMuxPorts("mux", want...)
	w.WaitNodePortsRemembered("mux")
	return a, want
}

// putPlaceholder replaces the mux's spec.ports wholesale with the manifest's
// placeholder, by Update (a PUT) as Argo CD, and checks that it stuck.
func putPlaceholder(t *testing.T, w *world.World) {
	t.Helper()
	services := w.ClientAs(argoCD).CoreV1().Services(w.Namespace)
	mux, err := services.Get(w.Context(), "mux", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mux.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
	out, err := services.Update(w.Context(), mux, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("PUT of the placeholder as %s: %v", argoCD, err)
	}
	if got := world.PortsOf(out); !reflect.DeepEqual(got, []world.Port{world.Placeholder}) {
		t.Fatalf("the PUT did not replace the ports: %v", got)
	}
}

func TestAGitOpsPutOfThePlaceholderKeepsEveryNodePortOfATenPortMux(t *testing.T) {
	w := world.New(t)
	w.Quiet() // it counts the agent's state writes
	a, want := nodePortMux(t, w, 10)
	before := world.NodePorts(w.Service("mux"))

	// Idle: a pass over the converged mux writes no state.
	w.AwaitPass(a, "mux")
	cm := w.State("mux")
	writes := a.Writes(t, "kind=state")
	w.AwaitPass(a, "mux")
	if n := a.Writes(t, "kind=state") - writes; n != 0 {
		t.Errorf("the agent wrote the state ConfigMap %d time(s) on an idle mux", n)
	}

	muxWrites := a.Writes(t, "kind=mux")
	began := time.Now()
	putPlaceholder(t, w)
	restored := w.WaitMuxPorts("mux", want...)
	t.Logf("10 ports restored %v after the PUT with their NodePorts %v", time.Since(began).Round(time.Millisecond), world.NodePorts(restored))
	if got := world.NodePorts(restored); !reflect.DeepEqual(got, before) {
		t.Errorf("NodePorts changed across the PUT:\nbefore %v\nafter  %v", before, got)
	}
	// The memory did not change, so the restore wrote no state either: one mux write.
	w.AwaitPass(a, "mux")
	if n := a.Writes(t, "kind=mux") - muxWrites; n != 1 {
		t.Errorf("the restore made %d mux write(s), want 1 (the ports with their NodePorts in one patch)", n)
	}
	if got := w.State("mux"); got.ResourceVersion != cm.ResourceVersion {
		t.Errorf("state ConfigMap written across the PUT (resourceVersion %s -> %s):\n%s",
			cm.ResourceVersion, got.ResourceVersion, got.Data["nodeports.json"])
	}
	if n := countEvents(w.Events("mux"), "NodePortReassigned"); n != 0 {
		t.Errorf("NodePortReassigned posted %d time(s) with every NodePort free:%s", n, world.EventsText(w.Events("mux")))
	}
}

// A remembered NodePort another Service takes while the mux is without its ports
// is left to the API server: the port gets a new NodePort, the others keep theirs,
// and a Warning names the port, the old NodePort and the holder.
func TestARememberedNodePortTakenMeanwhileIsReassignedWithAWarning(t *testing.T) {
	w := world.New(t)
	a, want := nodePortMux(t, w, 3)
	before := world.NodePorts(w.Service("mux"))
	taken := want[0]

	// Stopped, the agent cannot restore before the NodePort is taken.
	a.Stop()
	putPlaceholder(t, w)
	w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "grabber", Namespace: w.Namespace},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "grabber"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: before[taken.Name]}}},
	})
	a = w.StartAgent()

	restored := w.WaitMuxPorts("mux", want...)
	after := world.NodePorts(restored)
	if after[taken.Name] == 0 || after[taken.Name] == before[taken.Name] {
		t.Errorf("port %s: NodePort %d after the restore, want a new one from the API server (old %d is held)",
			taken.Name, after[taken.Name], before[taken.Name])
	}
	for _, p := range want[1:] {
		if after[p.Name] != before[p.Name] {
			t.Errorf("port %s: NodePort %d -> %d, want it kept", p.Name, before[p.Name], after[p.Name])
		}
	}
	msg := fmt.Sprintf("mux %s port %s (%d/TCP): its NodePort %d is held by Service %s; the API server assigns a new one, "+
		"and a load balancer that routes to NodePorts reprograms for this port",
		w.Ref("mux"), taken.Name, taken.Port, before[taken.Name], w.Ref("grabber"))
	if e := w.WaitEvent("mux", corev1.EventTypeWarning, "NodePortReassigned", msg); e.Message != msg {
		t.Errorf("NodePortReassigned message:\n got %s\nwant %s", e.Message, msg)
	}
	// The new NodePort is remembered.
	cm := w.WaitNodePortsRemembered("mux")
	if got, err := world.RememberedNodePorts(cm); err != nil || !reflect.DeepEqual(got, after) {
		t.Errorf("remembered NodePorts %v (%v), want the restored mux's %v", got, err, after)
	}
	w.AwaitPass(a, "mux")
}

// A remembered NodePort the API server refuses (here: outside its NodePort range,
// as after an administrator narrowed the range) fails the restoring write with 422
// Invalid; the agent sends it once more without the NodePort the error names, so
// that port gets the API server's choice, the other keeps its own, and a Warning
// says so.
func TestARememberedNodePortTheAPIServerRefusesIsGivenUpAloneWithAWarning(t *testing.T) {
	w := world.New(t)
	a, want := nodePortMux(t, w, 2)
	before := world.NodePorts(w.Service("mux"))

	a.Stop()
	putPlaceholder(t, w)
	configMaps := w.Client.CoreV1().ConfigMaps(w.Namespace)
	cm, err := configMaps.Get(w.Context(), world.StateName("mux"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const outOfRange = 30001 // the control plane's range is 40000-60000
	type entry struct {
		Name     string `json:"name"`
		NodePort int32  `json:"nodePort"`
	}
	doc := struct {
		NodePorts     []entry `json:"nodePorts"`
		SchemaVersion int     `json:"schemaVersion"`
	}{NodePorts: []entry{{want[0].Name, outOfRange}, {want[1].Name, before[want[1].Name]}}, SchemaVersion: 1}
	raw, _ := json.Marshal(doc)
	cm.Data[world.NodePortsKey] = string(raw)
	if _, err := configMaps.Update(w.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a = w.StartAgent()

	restored := w.WaitMuxPorts("mux", want...)
	msg := fmt.Sprintf("mux %s: the API server refused the remembered NodePort(s) %s=%d "+
		"(spec.ports[0].nodePort: Invalid value: %d: provided port is not in the valid range. The range of valid ports is 40000-60000); "+
		"it assigns new ones, and a load balancer that routes to NodePorts reprograms for these ports",
		w.Ref("mux"), want[0].Name, outOfRange, outOfRange)
	if e := w.WaitEvent("mux", corev1.EventTypeWarning, "NodePortReassigned", "the API server refused"); e.Message != msg {
		t.Errorf("NodePortReassigned message:\n got %s\nwant %s", e.Message, msg)
	}
	after := world.NodePorts(restored)
	if np := after[want[0].Name]; np < 40000 || np > 60000 {
		t.Errorf("port %s: NodePort %d after the retry, want one the API server chose in 40000-60000", want[0].Name, np)
	}
	if after[want[1].Name] != before[want[1].Name] {
		t.Errorf("port %s: NodePort %d -> %d, want its remembered one kept: only the refused NodePort is given up",
			want[1].Name, before[want[1].Name], after[want[1].Name])
	}
	w.WaitNodePortsRemembered("mux")
	w.AwaitPass(a, "mux")
}
