package traffic

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/test/controlplane"
	"github.com/nowakeai/svcmux/test/dataplane"
	sw "github.com/nowakeai/svcmux/test/world"
)

// pyChannel is one channel as the Python controller svc-lb-mux left it: its
// public port on the mux, the ports annotation it wrote, and its backend.
type pyChannel struct {
	name, ports string
	public      int32
	auto        bool
	pod         *dataplane.Pod
}

// The switch from the Python controller with traffic flowing: a cluster in
// its end state (hashed mux ports with server-allocated NodePorts, the
// channels' ports annotations and kopf finalizers, its state ConfigMap, and
// the mux Endpoints it generated, mirrored into slices that kube-proxy
// routes by) is taken over by the agent while a probe loop asks every
// channel through the cluster IP, a NodePort and the load-balancer IP.
// Not one probe may fail, and a watch opened before the agent starts must
// never see a mux port or NodePort other than the Python controller's.
func TestMigrationFromThePythonControllerDropsNoProbeAndMovesNoPort(t *testing.T) {
	w := newWorld(t, "")
	channels := []*pyChannel{
		{name: "web", ports: "http:21080->21080", public: 21080},
		{name: "admin", ports: "http:80->23000", public: 23000, auto: true},
	}
	for _, ch := range channels {
		ch.pod = w.addPod(ch.name+"-0", ch.name, tcp("http", 8080))
	}
	mux := pythonMux(w, channels)
	for _, ch := range channels {
		for _, via := range dataplane.Vias {
			w.expectReach(via, mux, muxPortOf(mux, ch.public), answer(ch.pod, 8080, corev1.ProtocolTCP))
		}
	}
	before := w.nodePorts()
	seen := watchMuxPorts(t, w)

	var targets []dataplane.Target
	for _, ch := range channels {
		for _, via := range dataplane.Vias {
			addr, err := w.node.Address(via, mux, muxPortOf(mux, ch.public))
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, dataplane.Target{Name: ch.name + " " + string(via), Via: via,
				Proto: corev1.ProtocolTCP, Addr: addr, Want: answer(ch.pod, 8080, corev1.ProtocolTCP)})
		}
	}
	loop := w.node.StartProbeLoop(w.ctx(), 20*time.Millisecond, targets...)
	w.startAgent()
	waitTakenOver(t, w, channels)
	// The mirrored slices are gone: probe on until kube-proxy has programmed
	// that state and every target has been asked a good many times since.
	gone := time.Now()
	controlplane.Eventually(t, converge, func() (bool, string) {
		synced, err := w.node.LastSync(w.ctx())
		return err == nil && synced.After(gone), fmt.Sprintf("kube-proxy last synced %v (%v), want after %v", synced, err, gone)
	})
	probed, _ := loop.Counts()
	controlplane.Eventually(t, converge, func() (bool, string) {
		n, _ := loop.Counts()
		return n >= probed+50*len(targets), fmt.Sprintf("%d probes since kube-proxy synced, want %d", n-probed, 50*len(targets))
	})
	loop.Stop()

	probes, failures := loop.Counts()
	for _, o := range loop.Outages(time.Time{}, time.Time{}) {
		t.Errorf("%s interrupted for %v (%d failed probes, first: %s)", o.Target, o.Duration().Round(time.Millisecond),
			o.Failures, o.FirstErr)
	}
	if got := seen.distinct(); len(got) != 1 || got[0] != before {
		t.Errorf("mux ports and NodePorts seen during the takeover: %q, want only %q", got, before)
	}
	t.Logf("takeover under traffic: %d probes, %d failed; mux ports %s throughout", probes, failures, before)
}

// pythonMux creates the Python controller's end state for channels (kopf's
// finalizers dropped at the end so the namespace can go) and waits until
// kube-proxy can route by it: the endpoint mirroring controller has copied
// the generated Endpoints into slices.
func pythonMux(w *world, channels []*pyChannel) *corev1.Service {
	w.t.Helper()
	names := []string{"mux"}
	var refs []string
	var ports []corev1.ServicePort
	var subsets []corev1.EndpointSubset
	var allocations []any
	for _, ch := range channels {
		names = append(names, ch.name)
		refs = append(refs, fmt.Sprintf("%q", w.Ref(ch.name)))
		hash := sw.PortName(w.ns, ch.name, "http")
		ports = append(ports, corev1.ServicePort{Name: hash, Port: ch.public, Protocol: corev1.ProtocolTCP})
		subsets = append(subsets, corev1.EndpointSubset{
			Addresses: []corev1.EndpointAddress{{IP: ch.pod.IP, TargetRef: &corev1.ObjectReference{
				Kind: "Pod", Namespace: w.ns, Name: ch.pod.Name}}},
			Ports: []corev1.EndpointPort{{Name: hash, Port: 8080, Protocol: corev1.ProtocolTCP}}})
		if ch.auto {
			allocations = append(allocations, map[string]any{"namespace": w.ns, "port": int(ch.public),
				"portName": "http", "protocol": "TCP", "service": ch.name, "source": "auto"})
		}
	}
	w.DropFinalizersAtEnd(names...)
	finalizers := []string{w.Key("finalizer")}
	w.CreateService(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.ns, Finalizers: finalizers, Annotations: map[string]string{
			w.Key("multiplexer"): "true",
			w.Key("port-range"):  "23000-23009",
			w.Key("channels"):    "[" + strings.Join(refs, ", ") + "]",
		}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports},
	})
	mux := w.SetIngress("mux", nextLoadBalancerIP())
	for _, ch := range channels {
		ann := map[string]string{w.Key("ports"): ch.ports}
		if ch.auto {
			ann[w.Key("external-ports")] = "http:auto"
		}
		class := w.Class("mux")
		port := ch.public
		if ch.auto {
			port = 80
		}
		w.CreateService(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: ch.name, Namespace: w.ns, Annotations: ann, Finalizers: finalizers},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
				Selector: map[string]string{"app": ch.name},
				Ports:    []corev1.ServicePort{svcPort("http", port, intstr.FromInt32(8080), corev1.ProtocolTCP)}},
		})
	}
	state := sw.EncodeState(map[string]any{"allocations": allocations,
		"mux": map[string]any{"name": "mux", "namespace": w.ns}, "schemaVersion": 1})
	if _, err := w.c.CoreV1().ConfigMaps(w.ns).Create(w.ctx(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: sw.StateName("mux"), Namespace: w.ns,
			Labels:      map[string]string{sw.LabelName: "svc-lb-mux", sw.LabelComponent: "mux-state"},
			Annotations: map[string]string{w.Key("mux"): w.Ref("mux")}},
		Data: map[string]string{"allocations.json": state},
	}, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	yes := true
	if _, err := w.c.CoreV1().Endpoints(w.ns).Create(w.ctx(), &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: w.ns,
			Labels:      map[string]string{sw.LabelManagedBy: "svc-lb-mux", sw.LabelComponent: "mux-endpoints"},
			Annotations: map[string]string{w.Key("managed"): "true", w.Key("mux"): w.Ref("mux")},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "mux", UID: mux.UID,
				Controller: &yes, BlockOwnerDeletion: &yes}}},
		Subsets: subsets,
	}, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	controlplane.Eventually(w.t, converge, func() (bool, string) {
		n := len(sw.Endpoints(w.SlicesOf("mux", sw.MirroringSliceManager), false))
		return n == len(channels), fmt.Sprintf("%d mirrored mux endpoints, want %d", n, len(channels))
	})
	return mux
}

// muxPortOf is the mux's port with public port number p.
func muxPortOf(mux *corev1.Service, p int32) corev1.ServicePort {
	for _, sp := range mux.Spec.Ports {
		if sp.Port == p {
			return sp
		}
	}
	return corev1.ServicePort{Port: p, Protocol: corev1.ProtocolTCP}
}

// waitTakenOver waits for the agent's end of the switch: the generated
// Endpoints deleted (so its mirrored slices go), svcmux's own slices serving
// every channel, every finalizer gone and every channel accepted.
func waitTakenOver(t *testing.T, w *world, channels []*pyChannel) {
	t.Helper()
	controlplane.Eventually(t, converge, func() (bool, string) {
		_, err := w.c.CoreV1().Endpoints(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
		own := len(sw.Endpoints(w.SlicesOf("mux", sw.SliceManager), false))
		mirrored := len(w.SlicesOf("mux", sw.MirroringSliceManager))
		return apierrors.IsNotFound(err) && own == len(channels) && mirrored == 0,
			fmt.Sprintf("generated Endpoints: %v; svcmux's mux endpoints: %d; mirrored slices: %d", err, own, mirrored)
	})
	w.WaitServiceFor("mux", func(s *corev1.Service) (bool, string) {
		return len(s.Finalizers) == 0, fmt.Sprintf("mux finalizers %v", s.Finalizers)
	})
	for _, ch := range channels {
		w.WaitServiceFor(ch.name, func(s *corev1.Service) (bool, string) {
			c := w.Accepted(s)
			return len(s.Finalizers) == 0 && c != nil && c.Status == metav1.ConditionTrue, w.DescribeAll(s)
		})
	}
}

// portWatch records every distinct "port:nodePort ..." set the mux had.
type portWatch struct {
	mu   sync.Mutex
	sets []string
}

func (p *portWatch) distinct() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sets...)
}

// watchMuxPorts starts a watch of the mux (through an informer, so a broken
// watch relists rather than misses a version) that lasts for the test.
func watchMuxPorts(t *testing.T, w *world) *portWatch {
	pw := &portWatch{}
	factory := informers.NewSharedInformerFactoryWithOptions(w.c, 0, informers.WithNamespace(w.ns))
	record := func(obj any) {
		svc, ok := obj.(*corev1.Service)
		if !ok || svc.Name != "mux" {
			return
		}
		set := nodePortSet(svc)
		pw.mu.Lock()
		defer pw.mu.Unlock()
		if n := len(pw.sets); n == 0 || pw.sets[n-1] != set {
			pw.sets = append(pw.sets, set)
		}
	}
	inf := factory.Core().V1().Services().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, o any) { record(o) }})
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop); factory.Shutdown() })
	factory.WaitForCacheSync(stop)
	return pw
}
