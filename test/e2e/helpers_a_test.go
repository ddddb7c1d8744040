package e2e

// Helpers for ownership_test.go, gitops_test.go and config_test.go. Every
// top-level name here is specific (muxWorld, pubPort, stateClaim, ...) so it
// does not clash with helpers written beside it; most helpers are methods.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// muxPrefix is the default annotation prefix; the tests name keys as the
// contract does, independently of the product's own key table.
const muxPrefix = "svc-mux.nowake.ai/"

// waitLimit bounds every wait for the agent to converge.
const waitLimit = 30 * time.Second

// muxWorld is one test's namespace, client and agent.
type muxWorld struct {
	t  *testing.T
	cp *controlplane.ControlPlane
	c  kubernetes.Interface
	ns string
}

// newMuxWorld gives the test its own namespace.
func newMuxWorld(t *testing.T) *muxWorld {
	t.Helper()
	cp := controlplane.Get(t)
	return &muxWorld{t: t, cp: cp, c: cp.Client(), ns: cp.Namespace(t)}
}

func (w *muxWorld) ctx() context.Context { return w.t.Context() }

// key is "<prefix>/<name>".
func (w *muxWorld) key(name string) string { return muxPrefix + name }

// startAgent runs the real agent with this namespace as its default mux namespace.
func (w *muxWorld) startAgent(extra ...string) *agentrun.Agent {
	w.t.Helper()
	args := append([]string{"--default-mux-namespace=" + w.ns}, extra...)
	a := agentrun.Start(w.t, w.cp.KubeconfigPath(), args...)
	w.t.Cleanup(func() {
		if w.t.Failed() {
			w.t.Logf("agent %s log tail:\n%s", a.MetricsAddr, a.LogTail(60))
		}
	})
	return a
}

// class is the loadBalancerClass naming mux in this namespace.
func (w *muxWorld) class(mux string) string { return muxPrefix + mux + "." + w.ns }

// createMux creates a mux Service (placeholder port) with extra annotations;
// mutate may change it before it is created.
func (w *muxWorld) createMux(name string, ann map[string]string, mutate ...func(*corev1.Service)) *corev1.Service {
	w.t.Helper()
	annotations := map[string]string{w.key("multiplexer"): "true"}
	for k, v := range ann {
		annotations[k] = v
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns, Annotations: annotations},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
	for _, m := range mutate {
		m(svc)
	}
	out, err := w.c.CoreV1().Services(w.ns).Create(w.ctx(), svc, metav1.CreateOptions{})
	if err != nil {
		w.t.Fatalf("create mux %s: %v", name, err)
	}
	return out
}

// channelObject is a channel Service of mux (not created).
func (w *muxWorld) channelObject(name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	class := w.class(mux)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.ns, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": name}, Ports: ports},
	}
}

// createChannel creates a channel of mux.
func (w *muxWorld) createChannel(name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	w.t.Helper()
	out, err := w.c.CoreV1().Services(w.ns).Create(w.ctx(), w.channelObject(name, mux, ann, ports...), metav1.CreateOptions{})
	if err != nil {
		w.t.Fatalf("create channel %s: %v", name, err)
	}
	return out
}

// createServices creates many Services concurrently.
func (w *muxWorld) createServices(list []*corev1.Service) {
	w.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(list))
	sem := make(chan struct{}, 16)
	for _, s := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func(s *corev1.Service) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := w.c.CoreV1().Services(w.ns).Create(w.ctx(), s, metav1.CreateOptions{}); err != nil {
				errs <- fmt.Errorf("create %s: %w", s.Name, err)
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		w.t.Fatal(err)
	}
}

func chanTCP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

func chanUDP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolUDP}
}

// svc reads a Service.
func (w *muxWorld) svc(name string) *corev1.Service {
	w.t.Helper()
	s, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("get service %s: %v", name, err)
	}
	return s
}

// patchService applies a JSON merge patch as fieldManager (default "e2e").
func (w *muxWorld) patchService(name, patch string, fieldManager ...string) *corev1.Service {
	w.t.Helper()
	opts := metav1.PatchOptions{FieldManager: "e2e"}
	if len(fieldManager) > 0 {
		opts.FieldManager = fieldManager[0]
	}
	out, err := w.c.CoreV1().Services(w.ns).Patch(w.ctx(), name, types.MergePatchType, []byte(patch), opts)
	if err != nil {
		w.t.Fatalf("patch service %s with %s: %v", name, patch, err)
	}
	return out
}

// setAnnotation sets (or, with value nil, removes) one annotation.
func (w *muxWorld) setAnnotation(name, key string, value *string) *corev1.Service {
	w.t.Helper()
	v, _ := json.Marshal(value)
	k, _ := json.Marshal(key)
	return w.patchService(name, fmt.Sprintf(`{"metadata":{"annotations":{%s:%s}}}`, k, v))
}

// pubPort is one mux spec.ports entry as the contract states it.
type pubPort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}

func (p pubPort) String() string { return fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol) }

// pubPorts is a Service's spec.ports as {name, port, protocol}, in order.
func pubPorts(svc *corev1.Service) []pubPort {
	out := []pubPort{}
	for _, p := range svc.Spec.Ports {
		out = append(out, pubPort{p.Name, p.Port, p.Protocol})
	}
	return out
}

// nodePortsByName maps port name → NodePort.
func nodePortsByName(svc *corev1.Service) map[string]int32 {
	out := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		out[p.Name] = p.NodePort
	}
	return out
}

// portHash is the mux port name of ns/svc/port: the first 7 hex characters of
// SHA-256, computed here from the contract, not by the product's code.
func portHash(ns, svc, port string) string {
	sum := sha256.Sum256([]byte(ns + "/" + svc + "/" + port))
	return hex.EncodeToString(sum[:])[:7]
}

// hp is the expected mux port of this namespace's channel port.
func (w *muxWorld) hp(svc, port string, number int32, proto ...corev1.Protocol) pubPort {
	p := corev1.ProtocolTCP
	if len(proto) > 0 {
		p = proto[0]
	}
	return pubPort{portHash(w.ns, svc, port), number, p}
}

// waitMuxPorts waits until the mux spec.ports are exactly want (in order) and
// every port has a NodePort from the control plane's range.
func (w *muxWorld) waitMuxPorts(mux string, want ...pubPort) *corev1.Service {
	w.t.Helper()
	var got *corev1.Service
	controlplane.Eventually(w.t, waitLimit, func() (bool, string) {
		s, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), mux, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = s
		return reflect.DeepEqual(pubPorts(s), want), fmt.Sprintf("mux %s ports %v, want %v", mux, pubPorts(s), want)
	})
	for _, p := range got.Spec.Ports {
		if p.NodePort < 40000 || p.NodePort > 60000 {
			w.t.Errorf("mux %s port %s: NodePort %d not assigned from %s", mux, p.Name, p.NodePort, controlplane.ServiceNodePortRange)
		}
	}
	return got
}

// accepted returns the channel's Accepted condition, nil when absent.
func (w *muxWorld) accepted(svc *corev1.Service) *metav1.Condition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == w.key("Accepted") {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// describe is a channel's agent-written state, for failure messages.
func (w *muxWorld) describe(svc *corev1.Service) string {
	ann, has := svc.Annotations[w.key("ports")]
	if !has {
		ann = "<absent>"
	}
	cond := "<none>"
	if c := w.accepted(svc); c != nil {
		cond = fmt.Sprintf("%s/%s gen=%d %q", c.Status, c.Reason, c.ObservedGeneration, c.Message)
	}
	return fmt.Sprintf("%s: ports=%q condition=%s ingress=%v", svc.Name, ann, cond, svc.Status.LoadBalancer.Ingress)
}

// waitChannel waits until ok holds for the channel.
func (w *muxWorld) waitChannel(name string, ok func(*corev1.Service) bool) *corev1.Service {
	w.t.Helper()
	var got *corev1.Service
	controlplane.Eventually(w.t, waitLimit, func() (bool, string) {
		s, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = s
		return ok(s), w.describe(s)
	})
	return got
}

// waitAccepted waits until the channel has exactly the ports annotation and an
// Accepted=True condition (reason Accepted) for its current generation.
func (w *muxWorld) waitAccepted(name, portsAnnotation string) *corev1.Service {
	w.t.Helper()
	return w.waitChannel(name, func(s *corev1.Service) bool {
		c := w.accepted(s)
		v, has := s.Annotations[w.key("ports")]
		return has && v == portsAnnotation && c != nil && c.Status == metav1.ConditionTrue &&
			c.Reason == "Accepted" && c.ObservedGeneration == s.Generation
	})
}

// waitRefused waits until the channel's condition is False with reason and a
// message containing msg, for its current generation.
func (w *muxWorld) waitRefused(name, reason, msg string) *corev1.Service {
	w.t.Helper()
	return w.waitChannel(name, func(s *corev1.Service) bool {
		c := w.accepted(s)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason &&
			strings.Contains(c.Message, msg) && c.ObservedGeneration == s.Generation
	})
}

// assertNoPortsAnnotation fails when a channel carries svcmux's ports annotation.
func (w *muxWorld) assertNoPortsAnnotation(s *corev1.Service) {
	w.t.Helper()
	if v, has := s.Annotations[w.key("ports")]; has {
		w.t.Errorf("channel %s: ports annotation %q, want none (never accepted)", s.Name, v)
	}
}

// eventsFor lists the Events about one object of this namespace.
func (w *muxWorld) eventsFor(name string) []corev1.Event {
	w.t.Helper()
	list, err := w.c.CoreV1().Events(w.ns).List(w.ctx(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		w.t.Fatalf("list events of %s: %v", name, err)
	}
	return list.Items
}

func eventsText(evs []corev1.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s/%s x%d %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Count, e.Reason, e.Message)
	}
	return b.String()
}

// waitEvent waits for an Event about name with reason, type and a message
// containing msg, and returns it.
func (w *muxWorld) waitEvent(name, typ, reason, msg string) corev1.Event {
	w.t.Helper()
	var found corev1.Event
	controlplane.Eventually(w.t, waitLimit, func() (bool, string) {
		evs := w.eventsFor(name)
		for _, e := range evs {
			if e.Reason == reason && e.Type == typ && strings.Contains(e.Message, msg) && e.InvolvedObject.Kind == "Service" {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("no %s %s event containing %q on %s; events:%s", typ, reason, msg, name, eventsText(evs))
	})
	return found
}

// assertNoEvent fails when an Event with reason exists about name.
func (w *muxWorld) assertNoEvent(name, reason string) {
	w.t.Helper()
	for _, e := range w.eventsFor(name) {
		if e.Reason == reason {
			w.t.Errorf("unexpected %s event on %s: %s", reason, name, e.Message)
		}
	}
}

// stateCMName is the default state ConfigMap name of mux.
func stateCMName(mux string) string { return mux + "-port-allocations" }

// stateCM reads the state ConfigMap of mux; nil when absent.
func (w *muxWorld) stateCM(mux string) *corev1.ConfigMap {
	w.t.Helper()
	cm, err := w.c.CoreV1().ConfigMaps(w.ns).Get(w.ctx(), stateCMName(mux), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		w.t.Fatalf("get state ConfigMap of %s: %v", mux, err)
	}
	return cm
}
