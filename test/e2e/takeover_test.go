package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/world"
)

// pythonEra is what the Python controller svc-lb-mux leaves behind for one mux
// (read from its src/controller.py, reconcile.py, port_allocations.py and
// mux_state.py): the mux with hashed spec.ports and server-allocated
// NodePorts, two channels with their ports annotations, kopf's finalizer on
// all three, the state ConfigMap and the generated mux Endpoints object.
type pythonEra struct {
	muxPorts []string // as the API server allocated them (allocatedPorts)
	node     string
	hashAPI  string
	hashWeb  string
	podUIDs  map[string]types.UID
}

// The channels: "api" asks name:auto (allocated 20000 from 20000-20099),
// "web" keeps its default port 8080.
const (
	pyAPIPorts = "grpc:9090->20000"
	pyWebPorts = "http:8080->8080"
)

// olderState is the older state document (only "allocations"), written by
// the Python controller's PortAllocator.to_state via json.dumps(indent=2,
// sort_keys=True).
func olderState(w *world.World) string {
	return world.EncodeState(map[string]any{
		"allocations": []any{map[string]any{
			"namespace": w.Namespace, "port": 20000, "portName": "grpc", "protocol": "TCP", "service": "api", "source": "auto",
		}},
		"mux":           map[string]any{"name": "mux", "namespace": w.Namespace},
		"schemaVersion": 1,
	})
}

// currentState is, byte for byte, the document svcmux writes for this mux
// (SPEC §4): both claims in portClaims, the auto one repeated in allocations.
func currentState(w *world.World) string {
	claim := func(channelPort, muxPort int, svc, name, source string) map[string]any {
		return map[string]any{"channelPort": channelPort, "muxPort": muxPort, "namespace": w.Namespace, "port": muxPort,
			"portName": name, "protocol": "TCP", "service": svc, "source": source}
	}
	auto := claim(9090, 20000, "api", "grpc", "auto")
	return world.EncodeState(map[string]any{
		"allocations":   []any{auto},
		"mux":           map[string]any{"name": "mux", "namespace": w.Namespace},
		"portClaims":    []any{auto, claim(8080, 8080, "web", "http", "static")},
		"schemaVersion": 1,
	})
}

// pythonLeftovers creates the Python controller's objects with state as the
// state ConfigMap's allocations.json, and waits until the cluster has filled
// the channels' slices and mirrored the mux Endpoints into slices.
func pythonLeftovers(t *testing.T, w *world.World, state string) *pythonEra {
	t.Helper()
	w.DropFinalizersAtEnd("mux", "api", "web")
	py := &pythonEra{hashAPI: world.PortName(w.Namespace, "api", "grpc"), hashWeb: world.PortName(w.Namespace, "web", "http"), podUIDs: map[string]types.UID{}}
	mux := w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.Namespace, Finalizers: []string{w.Key("finalizer")},
			Annotations: map[string]string{
				w.Key("multiplexer"): "true",
				w.Key("port-range"):  "20000-20099",
				w.Key("channels"):    fmt.Sprintf("[%q, %q]", w.Ref("api"), w.Ref("web")),
				w.Key("summary"):     "2 channel(s) | 2 port(s) | 2 pod(s) | DNS: pending",
			}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{
			{Name: py.hashWeb, Port: 8080, Protocol: corev1.ProtocolTCP},
			{Name: py.hashAPI, Port: 20000, Protocol: corev1.ProtocolTCP},
		}},
	})
	py.muxPorts = allocatedPorts(mux)
	for _, p := range mux.Spec.Ports {
		if p.NodePort == 0 {
			t.Fatalf("mux port %+v has no NodePort", p)
		}
	}
	channel := func(name, ports string, annotations map[string]string, port corev1.ServicePort) {
		ann := map[string]string{w.Key("ports"): ports}
		for k, v := range annotations {
			ann[k] = v
		}
		class := w.Class("mux")
		w.CreateService(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Annotations: ann, Finalizers: []string{w.Key("finalizer")}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
				Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{port}},
		})
	}
	channel("api", pyAPIPorts, map[string]string{w.Key("external-ports"): "grpc:auto"},
		corev1.ServicePort{Name: "grpc", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9000)})
	channel("web", pyWebPorts, nil,
		corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)})

	if _, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Create(w.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mux-port-allocations", Namespace: w.Namespace,
			Labels:      map[string]string{world.LabelName: "svc-lb-mux", world.LabelComponent: "mux-state"},
			Annotations: map[string]string{w.Key("mux"): w.Ref("mux")}},
		Data: map[string]string{"allocations.json": state},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	py.node = w.Node("192.0.2.20")
	for _, p := range []struct {
		name, app, ip string
		port          int32
		ready         bool
	}{{"api-0", "api", "10.244.4.1", 9000, true}, {"web-0", "web", "10.244.4.2", 80, true}, {"web-1", "web", "10.244.4.3", 80, false}} {
		pod := w.Pod(p.name, map[string]string{"app": p.app}, py.node, p.ip, p.ready,
			corev1.ContainerPort{ContainerPort: p.port, Protocol: corev1.ProtocolTCP})
		py.podUIDs[p.name] = pod.UID
	}
	addr := func(pod, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, NodeName: &py.node,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: w.Namespace, Name: pod, UID: py.podUIDs[pod]}}
	}
	// The generated Endpoints, adopted by the mux (kopf.adopt) and labelled by
	// build_generated_endpoints_metadata; one subset per channel subset.
	yes := true
	if _, err := w.Client.CoreV1().Endpoints(w.Namespace).Create(w.Context(), &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.Namespace,
			Labels: map[string]string{world.LabelManagedBy: "svc-lb-mux", world.LabelComponent: "mux-endpoints"},
			Annotations: map[string]string{w.Key("managed"): "true", w.Key("mux"): w.Ref("mux"),
				w.Key("channels"): fmt.Sprintf("[%q, %q]", w.Ref("api"), w.Ref("web"))},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "mux", UID: mux.UID,
				Controller: &yes, BlockOwnerDeletion: &yes}}},
		Subsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{addr("api-0", "10.244.4.1")},
				Ports: []corev1.EndpointPort{{Name: py.hashAPI, Port: 9000, Protocol: corev1.ProtocolTCP}}},
			{Addresses: []corev1.EndpointAddress{addr("web-0", "10.244.4.2")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("web-1", "10.244.4.3")},
				Ports:             []corev1.EndpointPort{{Name: py.hashWeb, Port: 80, Protocol: corev1.ProtocolTCP}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		mirrored := w.SlicesOf("mux", world.MirroringSliceManager)
		api := w.SlicesOf("api", world.ClusterSliceManager)
		web := w.SlicesOf("web", world.ClusterSliceManager)
		n := func(l []discoveryv1.EndpointSlice) int { return len(world.Endpoints(l, false)) }
		return n(mirrored) == 3 && n(api) == 1 && n(web) == 2,
			fmt.Sprintf("mirrored %d, api %d, web %d endpoints", n(mirrored), n(api), n(web))
	})
	return py
}

// wantPythonEraEndpoints are svcmux's endpoints for the Python-era channels.
func wantPythonEraEndpoints(w *world.World, py *pythonEra) []world.Endpoint {
	pod := func(n string) string { return "Pod/" + w.Namespace + "/" + n }
	return []world.Endpoint{
		{Addr: "10.244.4.1", Pod: pod("api-0"), Node: py.node, PortName: py.hashAPI, Port: 9000, Ready: true, Serving: true},
		{Addr: "10.244.4.2", Pod: pod("web-0"), Node: py.node, PortName: py.hashWeb, Port: 80, Ready: true, Serving: true},
		{Addr: "10.244.4.3", Pod: pod("web-1"), Node: py.node, PortName: py.hashWeb, Port: 80},
	}
}

// assertNothingMoved checks that every mux port keeps its port and NodePort,
// the channels keep their ports annotations and are accepted, and kopf's
// finalizer is gone from all three.
func assertNothingMoved(t *testing.T, w *world.World, py *pythonEra) {
	t.Helper()
	w.WaitServiceFor("mux", func(s *corev1.Service) (bool, string) {
		return len(s.Finalizers) == 0, fmt.Sprintf("mux finalizers %v", s.Finalizers)
	})
	if got := allocatedPorts(w.Service("mux")); !reflect.DeepEqual(got, py.muxPorts) {
		t.Errorf("mux ports moved:\n got %+v\nwant %+v", got, py.muxPorts)
	}
	for name, want := range map[string]string{"api": pyAPIPorts, "web": pyWebPorts} {
		s := w.WaitServiceFor(name, func(s *corev1.Service) (bool, string) {
			c := w.Accepted(s)
			return len(s.Finalizers) == 0 && c != nil && c.Status == metav1.ConditionTrue, w.DescribeAll(s)
		})
		if s.Annotations[w.Key("ports")] != want {
			t.Errorf("channel %s ports annotation %q, want %q", name, s.Annotations[w.Key("ports")], want)
		}
	}
}

// watchOrder records, from watches opened before the agent starts, the
// resourceVersion at which svcmux's first mux slice appeared and the one at
// which the Endpoints "mux" was deleted. resourceVersions are etcd revisions,
// so they order writes across resources.
type watchOrder struct {
	mu                 sync.Mutex
	firstSlice, delete int64
}

func watchTakeover(t *testing.T, w *world.World) *watchOrder {
	o := &watchOrder{}
	list, err := w.Client.CoreV1().Endpoints(w.Namespace).List(w.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ListOptions{ResourceVersion: list.ResourceVersion}
	sw, err := w.Client.DiscoveryV1().EndpointSlices(w.Namespace).Watch(w.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ew, err := w.Client.CoreV1().Endpoints(w.Namespace).Watch(w.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
	t.Cleanup(ew.Stop)
	rv := func(m metav1.Object) int64 { n, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64); return n }
	go func() {
		for ev := range sw.ResultChan() {
			if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok && ev.Type == watch.Added &&
				s.Labels[discoveryv1.LabelManagedBy] == world.SliceManager {
				o.mu.Lock()
				if o.firstSlice == 0 {
					o.firstSlice = rv(s)
				}
				o.mu.Unlock()
			}
		}
	}()
	go func() {
		for ev := range ew.ResultChan() {
			if ep, ok := ev.Object.(*corev1.Endpoints); ok && ev.Type == watch.Deleted && ep.Name == "mux" {
				o.mu.Lock()
				o.delete = rv(ep)
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *watchOrder) get() (int64, int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.firstSlice, o.delete
}

// TestTakeoverOfPythonControllerStateMovesNoPortAndNoNodePort starts svcmux
// where the Python controller ran (SPEC §3, §4, §5 No finalizers, §6
// Takeover): no port and no NodePort moves, kopf's finalizers go, the older
// state document is migrated to portClaims, svcmux's slices replace the
// Python controller's Endpoints (deleted only after they exist, and its
// mirrored slices go with it), and a user's Endpoints is never touched.
func TestTakeoverOfPythonControllerStateMovesNoPortAndNoNodePort(t *testing.T) {
	w := world.New(t)
	py := pythonLeftovers(t, w, olderState(w))

	// A user's selector-less Service with hand-written, unlabelled Endpoints.
	w.CreateService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: w.Namespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{world.TCP("sql", 5432)}}})
	userEP, err := w.Client.CoreV1().Endpoints(w.Namespace).Create(w.Context(), &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: w.Namespace},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.50"}},
			Ports: []corev1.EndpointPort{{Name: "sql", Port: 5432, Protocol: corev1.ProtocolTCP}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	order := watchTakeover(t, w)
	began := time.Now()
	a := w.StartAgent()

	w.WaitMuxEndpoints("mux", wantPythonEraEndpoints(w, py))
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		_, err := w.Client.CoreV1().Endpoints(w.Namespace).Get(w.Context(), "mux", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("Python Endpoints still there: %v", err)
	})
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		m := w.SlicesOf("mux", world.MirroringSliceManager)
		return len(m) == 0, fmt.Sprintf("mirrored slices left: %+v", world.Endpoints(m, true))
	})
	converged := time.Since(began)
	controlplane.Eventually(t, 5*time.Second, func() (bool, string) {
		s, d := order.get()
		return s != 0 && d != 0, fmt.Sprintf("watch saw first svcmux slice at rv %d, Endpoints delete at rv %d", s, d)
	})
	if s, d := order.get(); s >= d {
		t.Errorf("the Python Endpoints was deleted (rv %d) before svcmux's first slice existed (rv %d)", d, s)
	}

	assertNothingMoved(t, w, py)
	cm := w.ConfigMap("mux-port-allocations")
	if got, want := cm.Data["allocations.json"], currentState(w); got != want {
		t.Errorf("state ConfigMap not migrated to portClaims as specified:\n got %s\nwant %s", got, want)
	}
	if cm.Labels[world.LabelName] != "svc-lb-mux" || cm.Labels[world.LabelComponent] != "mux-state" || cm.Annotations[w.Key("mux")] != w.Ref("mux") {
		t.Errorf("state ConfigMap metadata: labels %v annotations %v", cm.Labels, cm.Annotations)
	}
	if len(cm.OwnerReferences) != 0 {
		t.Errorf("state ConfigMap must have no ownerReference, has %+v", cm.OwnerReferences)
	}

	// The user's Endpoints: same object, same content, never written, once
	// the agent is seen to have looked again.
	w.AwaitPass(a, "mux")
	ep, err := w.Client.CoreV1().Endpoints(w.Namespace).Get(w.Context(), "external-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.ResourceVersion != userEP.ResourceVersion || ep.UID != userEP.UID {
		t.Errorf("user Endpoints changed: rv %s -> %s", userEP.ResourceVersion, ep.ResourceVersion)
	}
	t.Logf("takeover converged in %v (agent start included); writes %d (state %d, mux %d, channel %d, endpointslice %d, endpoints %d)",
		converged.Round(time.Millisecond), a.Writes(t), a.Writes(t, "kind=state"), a.Writes(t, "kind=mux"),
		a.Writes(t, "kind=channel"), a.Writes(t, "kind=endpointslice"), a.Writes(t, "kind=endpoints"))
}

// TestTakeoverRewritesNoStateAlreadyInTheCurrentFormat starts svcmux over
// Python-era objects whose state ConfigMap already holds exactly what svcmux
// would write — byte for byte, and then the same content in compact JSON:
// compared semantically, it is not rewritten (SPEC §4).
func TestTakeoverRewritesNoStateAlreadyInTheCurrentFormat(t *testing.T) {
	for _, tc := range []struct {
		name   string
		encode func(t *testing.T, w *world.World) string
	}{
		{"byte-identical", func(_ *testing.T, w *world.World) string { return currentState(w) }},
		{"compact, same content", func(t *testing.T, w *world.World) string {
			var v any
			if err := json.Unmarshal([]byte(currentState(w)), &v); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			return string(b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := world.New(t)
			state := tc.encode(t, w)
			py := pythonLeftovers(t, w, state)
			a := w.StartAgent()

			w.WaitMuxEndpoints("mux", wantPythonEraEndpoints(w, py))
			assertNothingMoved(t, w, py)
			// The pass signal of this mux only (svcmux_mux_passes_total): the
			// agent has looked again since the takeover, so an unchanged
			// document is "nothing to write", not "not yet". The takeover may
			// add the NodePort memory (SPEC §10) beside it, and nothing else.
			w.AwaitPass(a, "mux")
			took := w.ConfigMap(world.StateName("mux"))
			if got := took.Data[world.StateKey]; got != state {
				t.Errorf("state document rewritten:\n%s\nwant, as it was:\n%s", got, state)
			}
			for k := range took.Data {
				if k != world.StateKey && k != world.NodePortsKey {
					t.Errorf("state ConfigMap gained data key %q", k)
				}
			}
			w.AwaitPass(a, "mux")
			if cm := w.ConfigMap(world.StateName("mux")); cm.ResourceVersion != took.ResourceVersion {
				t.Errorf("state ConfigMap written again: rv %s -> %s\n%v", took.ResourceVersion, cm.ResourceVersion, cm.Data)
			}
		})
	}
}

// TestANamespaceHeldByPythonFinalizersIsDeletedOnceTheAgentRuns deletes a
// namespace holding the Python controller's mux and channels while no
// controller runs: the namespace controller removes what it can (the state
// ConfigMap included) and the Services stay Terminating on kopf's finalizer.
// Started then, svcmux must strip those finalizers so the delete completes
// (SPEC §5 No finalizers: "so deletes never hang") — a write it cannot make
// in a terminating namespace (creating the state ConfigMap) must not hold
// that up.
func TestANamespaceHeldByPythonFinalizersIsDeletedOnceTheAgentRuns(t *testing.T) {
	w := world.New(t)
	w.DropFinalizersAtEnd("mux", "api")
	w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.Namespace, Finalizers: []string{w.Key("finalizer")},
			Annotations: map[string]string{w.Key("multiplexer"): "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{
			{Name: world.PortName(w.Namespace, "api", "http"), Port: 8080, Protocol: corev1.ProtocolTCP}}},
	})
	class := w.Class("mux")
	w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: w.Namespace, Finalizers: []string{w.Key("finalizer")},
			Annotations: map[string]string{w.Key("ports"): "http:8080->8080"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{world.TCP("http", 8080)}},
	})
	if _, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Create(w.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mux-port-allocations", Namespace: w.Namespace,
			Labels:      map[string]string{world.LabelName: "svc-lb-mux", world.LabelComponent: "mux-state"},
			Annotations: map[string]string{w.Key("mux"): w.Ref("mux")}},
		Data: map[string]string{"allocations.json": olderState(w)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := w.Client.CoreV1().Namespaces().Delete(w.Context(), w.Namespace, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Stuck: the Services wait for a finalizer no controller will remove.
	controlplane.Eventually(t, world.DefaultTimeout, func() (bool, string) {
		mux, api := w.Service("mux"), w.Service("api")
		cm := w.ConfigMap("mux-port-allocations")
		return mux.DeletionTimestamp != nil && api.DeletionTimestamp != nil && cm == nil,
			fmt.Sprintf("mux deleting %v, channel deleting %v, state ConfigMap present %v", mux.DeletionTimestamp != nil, api.DeletionTimestamp != nil, cm != nil)
	})

	a := w.StartAgent()
	controlplane.Eventually(t, 30*time.Second, func() (bool, string) {
		ns, err := w.Client.CoreV1().Namespaces().Get(w.Context(), w.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		state := fmt.Sprintf("namespace %s: %v", w.Namespace, err)
		if err == nil {
			state = fmt.Sprintf("namespace %s phase %s", w.Namespace, ns.Status.Phase)
		}
		for _, name := range []string{"mux", "api"} {
			if s, err := w.Client.CoreV1().Services(w.Namespace).Get(w.Context(), name, metav1.GetOptions{}); err == nil {
				state += fmt.Sprintf("; service %s finalizers %v", name, s.Finalizers)
			}
		}
		return false, state + "\nagent log:\n" + a.LogTail(40)
	})
}

// allocatedPorts lists "name port/protocol nodePort" of a Service's ports, in
// spec order: what must not move across a takeover.
func allocatedPorts(svc *corev1.Service) []string {
	out := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out = append(out, fmt.Sprintf("%s %d/%s nodePort=%d", p.Name, p.Port, p.Protocol, p.NodePort))
	}
	return out
}
