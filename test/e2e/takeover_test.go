package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
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

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// pythonB is what the Python controller svc-lb-mux leaves behind for one mux
// (read from its src/controller.py, reconcile.py, port_allocations.py and
// mux_state.py): the mux with hashed spec.ports and server-allocated
// NodePorts, two channels with their ports annotations, kopf's finalizer on
// all three, the state ConfigMap and the generated mux Endpoints object.
type pythonB struct {
	muxPorts []portB // as the API server allocated them
	node     string
	hashAPI  string
	hashWeb  string
	podUIDs  map[string]types.UID
}

// The channels: "api" asks name:auto (allocated 20000 from 20000-20099),
// "web" keeps its default port 8080.
const (
	pyAPIPortsB = "grpc:9090->20000"
	pyWebPortsB = "http:8080->8080"
)

// olderStateB is the older state document (only "allocations"), written by
// the Python controller's PortAllocator.to_state via json.dumps(indent=2,
// sort_keys=True).
func (e *envB) olderStateB() string {
	return encodeStateB(e.t, map[string]any{
		"allocations": []any{map[string]any{
			"namespace": e.ns, "port": 20000, "portName": "grpc", "protocol": "TCP", "service": "api", "source": "auto",
		}},
		"mux":           map[string]any{"name": "mux", "namespace": e.ns},
		"schemaVersion": 1,
	})
}

// currentStateB is, byte for byte, the document svcmux writes for this mux
// (SPEC §4): both claims in portClaims, the auto one repeated in allocations.
func (e *envB) currentStateB() string {
	claim := func(channelPort, muxPort int, svc, name, source string) map[string]any {
		return map[string]any{"channelPort": channelPort, "muxPort": muxPort, "namespace": e.ns, "port": muxPort,
			"portName": name, "protocol": "TCP", "service": svc, "source": source}
	}
	auto := claim(9090, 20000, "api", "grpc", "auto")
	return encodeStateB(e.t, map[string]any{
		"allocations":   []any{auto},
		"mux":           map[string]any{"name": "mux", "namespace": e.ns},
		"portClaims":    []any{auto, claim(8080, 8080, "web", "http", "static")},
		"schemaVersion": 1,
	})
}

// pythonLeftoversB creates the Python controller's objects with state as the
// state ConfigMap's allocations.json, and waits until the cluster has filled
// the channels' slices and mirrored the mux Endpoints into slices.
func (e *envB) pythonLeftoversB(state string) *pythonB {
	t := e.t
	e.dropFinalizersAtEndB("mux", "api", "web")
	py := &pythonB{hashAPI: muxPortNameB(e.ns, "api", "grpc"), hashWeb: muxPortNameB(e.ns, "web", "http"), podUIDs: map[string]types.UID{}}
	mux := e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: e.ns, Finalizers: []string{finalizerB},
			Annotations: map[string]string{
				annMultiplexerB: "true",
				annPortRangeB:   "20000-20099",
				annChannelsB:    fmt.Sprintf("[%q, %q]", e.refB("api"), e.refB("web")),
				annSummaryB:     "2 channel(s) | 2 port(s) | 2 pod(s) | DNS: pending",
			}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{
			{Name: py.hashWeb, Port: 8080, Protocol: corev1.ProtocolTCP},
			{Name: py.hashAPI, Port: 20000, Protocol: corev1.ProtocolTCP},
		}},
	})
	py.muxPorts = portsB(mux)
	for _, p := range py.muxPorts {
		if p.NodePort == 0 {
			t.Fatalf("mux port %+v has no NodePort", p)
		}
	}
	channel := func(name, ports string, annotations map[string]string, port corev1.ServicePort) {
		ann := map[string]string{annPortsB: ports}
		for k, v := range annotations {
			ann[k] = v
		}
		class := e.classB("mux")
		e.createSvcB(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Annotations: ann, Finalizers: []string{finalizerB}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
				Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{port}},
		})
	}
	channel("api", pyAPIPortsB, map[string]string{annExternalB: "grpc:auto"},
		corev1.ServicePort{Name: "grpc", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9000)})
	channel("web", pyWebPortsB, nil,
		corev1.ServicePort{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)})

	if _, err := e.c.CoreV1().ConfigMaps(e.ns).Create(e.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mux-port-allocations", Namespace: e.ns,
			Labels:      map[string]string{labelNameB: "svc-lb-mux", labelComponentB: "mux-state"},
			Annotations: map[string]string{annMuxRefB: e.refB("mux")}},
		Data: map[string]string{"allocations.json": state},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	py.node = e.nodeB()
	for _, p := range []struct {
		name, app, ip string
		port          int32
		ready         bool
	}{{"api-0", "api", "10.244.4.1", 9000, true}, {"web-0", "web", "10.244.4.2", 80, true}, {"web-1", "web", "10.244.4.3", 80, false}} {
		pod := e.podB(p.name, map[string]string{"app": p.app}, py.node, p.ip, p.ready,
			corev1.ContainerPort{ContainerPort: p.port, Protocol: corev1.ProtocolTCP})
		py.podUIDs[p.name] = pod.UID
	}
	addr := func(pod, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, NodeName: &py.node,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: e.ns, Name: pod, UID: py.podUIDs[pod]}}
	}
	// The generated Endpoints, adopted by the mux (kopf.adopt) and labelled by
	// build_generated_endpoints_metadata; one subset per channel subset.
	yes := true
	if _, err := e.c.CoreV1().Endpoints(e.ns).Create(e.ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: e.ns,
			Labels: map[string]string{labelManagedByB: "svc-lb-mux", labelComponentB: "mux-endpoints"},
			Annotations: map[string]string{annManagedB: "true", annMuxRefB: e.refB("mux"),
				annChannelsB: fmt.Sprintf("[%q, %q]", e.refB("api"), e.refB("web"))},
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
	controlplane.Eventually(t, waitB, func() (bool, string) {
		mirrored := e.slicesByManagerB("mux", mirrorManagerB)
		api := e.slicesByManagerB("api", "endpointslice-controller.k8s.io")
		web := e.slicesByManagerB("web", "endpointslice-controller.k8s.io")
		n := func(l []discoveryv1.EndpointSlice) int { return len(flattenB(l, false)) }
		return n(mirrored) == 3 && n(api) == 1 && n(web) == 2,
			fmt.Sprintf("mirrored %d, api %d, web %d endpoints", n(mirrored), n(api), n(web))
	})
	return py
}

// wantPythonEraEndpointsB are svcmux's endpoints for the Python-era channels.
func (e *envB) wantPythonEraEndpointsB(py *pythonB) []epB {
	pod := func(n string) string { return "Pod/" + e.ns + "/" + n }
	return []epB{
		{Addr: "10.244.4.1", Pod: pod("api-0"), Node: py.node, PortName: py.hashAPI, Port: 9000, Ready: true, Serving: true},
		{Addr: "10.244.4.2", Pod: pod("web-0"), Node: py.node, PortName: py.hashWeb, Port: 80, Ready: true, Serving: true},
		{Addr: "10.244.4.3", Pod: pod("web-1"), Node: py.node, PortName: py.hashWeb, Port: 80},
	}
}

// assertNothingMovedB checks that every mux port keeps its port and NodePort,
// the channels keep their ports annotations and are accepted, and kopf's
// finalizer is gone from all three.
func (e *envB) assertNothingMovedB(py *pythonB) {
	t := e.t
	e.waitSvcB("mux", func(s *corev1.Service) (bool, string) {
		return len(s.Finalizers) == 0, fmt.Sprintf("mux finalizers %v", s.Finalizers)
	})
	if got := portsB(e.svcB("mux")); !reflect.DeepEqual(got, py.muxPorts) {
		t.Errorf("mux ports moved:\n got %+v\nwant %+v", got, py.muxPorts)
	}
	for name, want := range map[string]string{"api": pyAPIPortsB, "web": pyWebPortsB} {
		s := e.waitSvcB(name, func(s *corev1.Service) (bool, string) {
			c := acceptedB(s)
			return len(s.Finalizers) == 0 && c != nil && c.Status == metav1.ConditionTrue, svcStateB(s)
		})
		if s.Annotations[annPortsB] != want {
			t.Errorf("channel %s ports annotation %q, want %q", name, s.Annotations[annPortsB], want)
		}
	}
}

// watchOrderB records, from watches opened before the agent starts, the
// resourceVersion at which svcmux's first mux slice appeared and the one at
// which the Endpoints "mux" was deleted. resourceVersions are etcd revisions,
// so they order writes across resources.
type watchOrderB struct {
	mu                 sync.Mutex
	firstSlice, delete int64
}

func (e *envB) watchTakeoverB() *watchOrderB {
	t := e.t
	o := &watchOrderB{}
	list, err := e.c.CoreV1().Endpoints(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.ListOptions{ResourceVersion: list.ResourceVersion}
	sw, err := e.c.DiscoveryV1().EndpointSlices(e.ns).Watch(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ew, err := e.c.CoreV1().Endpoints(e.ns).Watch(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
	t.Cleanup(ew.Stop)
	rv := func(m metav1.Object) int64 { n, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64); return n }
	go func() {
		for ev := range sw.ResultChan() {
			if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok && ev.Type == watch.Added &&
				s.Labels[discoveryv1.LabelManagedBy] == sliceManagerB {
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

func (o *watchOrderB) get() (int64, int64) {
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
	e := newEnvB(t)
	py := e.pythonLeftoversB(e.olderStateB())

	// A user's selector-less Service with hand-written, unlabelled Endpoints.
	e.createSvcB(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: e.ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{tcpB("sql", 5432)}}})
	userEP, err := e.c.CoreV1().Endpoints(e.ns).Create(e.ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "external-db", Namespace: e.ns},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "192.0.2.50"}},
			Ports: []corev1.EndpointPort{{Name: "sql", Port: 5432, Protocol: corev1.ProtocolTCP}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	order := e.watchTakeoverB()
	began := time.Now()
	a := agentrun.Start(t, e.cp.KubeconfigPath())

	e.waitMuxEndpointsB("mux", e.wantPythonEraEndpointsB(py))
	controlplane.Eventually(t, waitB, func() (bool, string) {
		_, err := e.c.CoreV1().Endpoints(e.ns).Get(e.ctx, "mux", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("Python Endpoints still there: %v", err)
	})
	controlplane.Eventually(t, waitB, func() (bool, string) {
		m := e.slicesByManagerB("mux", mirrorManagerB)
		return len(m) == 0, fmt.Sprintf("mirrored slices left: %+v", flattenB(m, true))
	})
	converged := time.Since(began)
	controlplane.Eventually(t, 5*time.Second, func() (bool, string) {
		s, d := order.get()
		return s != 0 && d != 0, fmt.Sprintf("watch saw first svcmux slice at rv %d, Endpoints delete at rv %d", s, d)
	})
	if s, d := order.get(); s >= d {
		t.Errorf("the Python Endpoints was deleted (rv %d) before svcmux's first slice existed (rv %d)", d, s)
	}

	e.assertNothingMovedB(py)
	cm := e.stateCMB("mux-port-allocations")
	if got, want := cm.Data["allocations.json"], e.currentStateB(); got != want {
		t.Errorf("state ConfigMap not migrated to portClaims as specified:\n got %s\nwant %s", got, want)
	}
	if cm.Labels[labelNameB] != "svc-lb-mux" || cm.Labels[labelComponentB] != "mux-state" || cm.Annotations[annMuxRefB] != e.refB("mux") {
		t.Errorf("state ConfigMap metadata: labels %v annotations %v", cm.Labels, cm.Annotations)
	}
	if len(cm.OwnerReferences) != 0 {
		t.Errorf("state ConfigMap must have no ownerReference, has %+v", cm.OwnerReferences)
	}

	// The user's Endpoints: same object, same content, never written.
	holdB(t, time.Second, func() (bool, string) {
		ep, err := e.c.CoreV1().Endpoints(e.ns).Get(e.ctx, "external-db", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return ep.ResourceVersion == userEP.ResourceVersion && ep.UID == userEP.UID,
			fmt.Sprintf("user Endpoints changed: rv %s -> %s", userEP.ResourceVersion, ep.ResourceVersion)
	})
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
		encode func(e *envB) string
	}{
		{"byte-identical", func(e *envB) string { return e.currentStateB() }},
		{"compact, same content", func(e *envB) string {
			var v any
			if err := json.Unmarshal([]byte(e.currentStateB()), &v); err != nil {
				e.t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			return string(b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvB(t)
			state := tc.encode(e)
			py := e.pythonLeftoversB(state)
			before := e.stateCMB("mux-port-allocations")
			a := agentrun.Start(t, e.cp.KubeconfigPath())

			e.waitMuxEndpointsB("mux", e.wantPythonEraEndpointsB(py))
			e.assertNothingMovedB(py)
			holdB(t, time.Second, func() (bool, string) {
				cm := e.stateCMB("mux-port-allocations")
				return cm.ResourceVersion == before.ResourceVersion && cm.Data["allocations.json"] == state,
					fmt.Sprintf("state ConfigMap rewritten: rv %s -> %s\n%s", before.ResourceVersion, cm.ResourceVersion, cm.Data["allocations.json"])
			})
			// The agent logs every write; the metric would also count writes to
			// other tests' muxes, which an agent watching all namespaces may see.
			if log := a.LogTail(1000); strings.Contains(log, "configmaps "+e.ns+"/mux-port-allocations") {
				t.Errorf("the agent wrote the state ConfigMap:\n%s", log)
			}
		})
	}
}

// TestTakeoverWritesEachChannelOnce counts, in the agent's log of every
// write, what taking over the Python controller's channels costs: per
// channel one patch removing kopf's finalizer and one status patch, with no
// resourceVersion conflict between the agent's own writes and no patch sent
// again once applied (SPEC §5: every write is skipped when nothing changed).
func TestTakeoverWritesEachChannelOnce(t *testing.T) {
	e := newEnvB(t)
	py := e.pythonLeftoversB(e.olderStateB())
	a := agentrun.Start(t, e.cp.KubeconfigPath())
	e.waitMuxEndpointsB("mux", e.wantPythonEraEndpointsB(py))
	e.assertNothingMovedB(py)
	time.Sleep(time.Second) // let any retry show

	log := grepB(a.LogTail(2000), e.ns)
	var problems []string
	if n := strings.Count(log, "write conflict"); n != 0 {
		problems = append(problems, fmt.Sprintf("%d write conflicts between the agent's own writes", n))
	}
	for _, name := range []string{"api", "web"} {
		for what, line := range map[string]string{
			"finalizer": fmt.Sprintf(`write="patch services %s/%s [metadata.finalizers]"`, e.ns, name),
			"status":    fmt.Sprintf(`write="patch services %s/%s status [`, e.ns, name),
		} {
			if n := strings.Count(log, line); n != 1 {
				problems = append(problems, fmt.Sprintf("channel %s: %s patch sent %d times, want 1", name, what, n))
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s\nagent log:\n%s", strings.Join(problems, "\n"), log)
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
	e := newEnvB(t)
	e.dropFinalizersAtEndB("mux", "api")
	e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: e.ns, Finalizers: []string{finalizerB},
			Annotations: map[string]string{annMultiplexerB: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{
			{Name: muxPortNameB(e.ns, "api", "http"), Port: 8080, Protocol: corev1.ProtocolTCP}}},
	})
	class := e.classB("mux")
	e.createSvcB(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns, Finalizers: []string{finalizerB},
			Annotations: map[string]string{annPortsB: "http:8080->8080"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": "api"}, Ports: []corev1.ServicePort{tcpB("http", 8080)}},
	})
	if _, err := e.c.CoreV1().ConfigMaps(e.ns).Create(e.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mux-port-allocations", Namespace: e.ns,
			Labels:      map[string]string{labelNameB: "svc-lb-mux", labelComponentB: "mux-state"},
			Annotations: map[string]string{annMuxRefB: e.refB("mux")}},
		Data: map[string]string{"allocations.json": e.olderStateB()},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := e.c.CoreV1().Namespaces().Delete(e.ctx, e.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Stuck: the Services wait for a finalizer no controller will remove.
	controlplane.Eventually(t, waitB, func() (bool, string) {
		mux, api := e.svcB("mux"), e.svcB("api")
		cm := e.stateCMB("mux-port-allocations")
		return mux.DeletionTimestamp != nil && api.DeletionTimestamp != nil && cm == nil,
			fmt.Sprintf("mux deleting %v, channel deleting %v, state ConfigMap present %v", mux.DeletionTimestamp != nil, api.DeletionTimestamp != nil, cm != nil)
	})

	a := agentrun.Start(t, e.cp.KubeconfigPath())
	controlplane.Eventually(t, 30*time.Second, func() (bool, string) {
		ns, err := e.c.CoreV1().Namespaces().Get(e.ctx, e.ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		state := fmt.Sprintf("namespace %s: %v", e.ns, err)
		if err == nil {
			state = fmt.Sprintf("namespace %s phase %s", e.ns, ns.Status.Phase)
		}
		for _, name := range []string{"mux", "api"} {
			if s, err := e.c.CoreV1().Services(e.ns).Get(e.ctx, name, metav1.GetOptions{}); err == nil {
				state += fmt.Sprintf("; service %s finalizers %v", name, s.Finalizers)
			}
		}
		return false, state + "\nagent log:\n" + grepB(a.LogTail(200), e.ns)
	})
}
