package e2e

// GitOps re-application and state loss or damage (SPEC §3, §4): ownership
// survives another field manager writing the placeholder back, a deleted state
// ConfigMap, and a corrupt or foreign one, without moving a port.

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// gitopsManager is the field manager a GitOps tool writes with.
const gitopsManager = "argocd-controller"

// placeholderOnly is the mux spec.ports a GitOps tool re-applies from Git.
var placeholderOnly = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}

// writePlaceholderBack replaces the mux spec.ports with the placeholder, as
// gitopsManager, by a full Update (Argo CD "Replace=true", kubectl replace).
func (w *muxWorld) writePlaceholderBack(mux string) *corev1.Service {
	w.t.Helper()
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), mux, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Ports = placeholderOnly
		out, err = w.c.CoreV1().Services(w.ns).Update(w.ctx(), s, metav1.UpdateOptions{FieldManager: gitopsManager})
		return err
	})
	if err != nil {
		w.t.Fatalf("write the placeholder back on %s: %v", mux, err)
	}
	if !reflect.DeepEqual(pubPorts(out), []pubPort{{"placeholder", 101, corev1.ProtocolTCP}}) {
		w.t.Fatalf("the GitOps write did not stick: %v", pubPorts(out))
	}
	return out
}

// threeChannels creates a mux with a range and a default, an explicit and an
// auto channel, waits until they converge and returns the expected mux ports
// and state document.
func (w *muxWorld) threeChannels() ([]pubPort, string) {
	w.t.Helper()
	w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
	w.createChannel("web", "mux", nil, chanTCP("http", 8080))
	w.createChannel("pinned", "mux", map[string]string{w.key("external-ports"): "http:30080"}, chanTCP("http", 80))
	w.createChannel("dyn", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8081))
	ports := []pubPort{w.hp("web", "http", 8080), w.hp("dyn", "http", 20000), w.hp("pinned", "http", 30080)}
	doc := w.stateDocument("mux",
		stateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		stateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		stateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true})
	return ports, doc
}

func (w *muxWorld) waitThreeAccepted() {
	w.t.Helper()
	w.waitAccepted("web", "http:8080->8080")
	w.waitAccepted("pinned", "http:80->30080")
	w.waitAccepted("dyn", "http:8081->20000")
}

// A GitOps tool writing the placeholder back (by Update or by merge patch) is
// undone: the same ports and owners return, with a bounded number of writes,
// and the state ConfigMap and channels are not touched.
func TestGitOpsPlaceholderIsRestoredWithTheSameOwners(t *testing.T) {
	w := newMuxWorld(t)
	w.waitOtherNamespacesGone()
	want, doc := w.threeChannels()
	a := w.startAgent()
	original := nodePortsByName(w.waitMuxPorts("mux", want...))
	w.waitThreeAccepted()
	cmVersion := w.waitState("mux", doc).ResourceVersion
	settleWrites(t, a, time.Second)
	channelVersions := func() map[string]string {
		out := map[string]string{}
		for _, n := range []string{"web", "pinned", "dyn"} {
			out[n] = w.svc(n).ResourceVersion
		}
		return out
	}
	channels := channelVersions()

	for _, episode := range []struct {
		name  string
		write func()
	}{
		{"by Update", func() { w.writePlaceholderBack("mux") }},
		{"by merge patch", func() {
			out := w.patchService("mux", `{"spec":{"ports":[{"name":"placeholder","port":101,"protocol":"TCP"}]}}`, gitopsManager)
			if !reflect.DeepEqual(pubPorts(out), []pubPort{{"placeholder", 101, corev1.ProtocolTCP}}) {
				t.Fatalf("the GitOps patch did not stick: %v", pubPorts(out))
			}
		}},
	} {
		t.Run(episode.name, func(t *testing.T) {
			before := settleWrites(t, a, 500*time.Millisecond)
			began := time.Now()
			episode.write()
			restored := w.waitMuxPorts("mux", want...)
			took := time.Since(began)
			writes := settleWrites(t, a, 1500*time.Millisecond) - before
			t.Logf("restored in %v with %d agent write(s); NodePorts before %v, after %v",
				took.Round(time.Millisecond), writes, original, nodePortsByName(restored))
			if writes > 3 {
				t.Errorf("the agent made %d writes to restore the mux, want at most 3\n%s", writes, agentLogTail(a))
			}
			w.waitThreeAccepted()
			if got := w.stateCM("mux"); got.ResourceVersion != cmVersion || got.Data["allocations.json"] != doc {
				t.Errorf("state ConfigMap rewritten (resourceVersion %s -> %s):\n%s", cmVersion, got.ResourceVersion, got.Data["allocations.json"])
			}
			if got := channelVersions(); !reflect.DeepEqual(got, channels) {
				t.Errorf("channels written during the episode: %v -> %v", channels, got)
			}
			managers := map[string]bool{}
			for _, f := range w.svc("mux").ManagedFields {
				managers[f.Manager] = true
			}
			if !managers["svcmux"] {
				t.Errorf("mux managedFields name no svcmux manager: %v", managers)
			}
		})
	}
}

// Deleting the state ConfigMap moves no port (auto ports included, even when
// they are not the first free ones) and the agent rebuilds it byte for byte.
// The same holds when, while the agent is down, a GitOps tool also wrote the
// placeholder back: the owners are then recovered from the channels' ports
// annotations.
func TestDeletedStateConfigMapMovesNoPortAndIsRebuiltIdentically(t *testing.T) {
	w := newMuxWorld(t)
	w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
	a := w.startAgent()
	// zz-auto asks first and gets 20000; aa-auto gets 20001. Allocating afresh in
	// name order would swap them.
	w.createChannel("zz-auto", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8080))
	w.waitAccepted("zz-auto", "http:8080->20000")
	w.createChannel("aa-auto", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8080))
	w.waitAccepted("aa-auto", "http:8080->20001")
	w.createChannel("web", "mux", nil, chanTCP("http", 8080))
	w.waitAccepted("web", "http:8080->8080")
	want := []pubPort{w.hp("web", "http", 8080), w.hp("zz-auto", "http", 20000), w.hp("aa-auto", "http", 20001)}
	doc := w.stateDocument("mux",
		stateClaim{Service: "zz-auto", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true},
		stateClaim{Service: "aa-auto", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20001, Auto: true},
		stateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080})
	w.waitMuxPorts("mux", want...)
	old := w.waitState("mux", doc)
	settleWrites(t, a, time.Second)
	mux := w.svc("mux")

	checkChannels := func() {
		t.Helper()
		w.waitAccepted("zz-auto", "http:8080->20000")
		w.waitAccepted("aa-auto", "http:8080->20001")
		w.waitAccepted("web", "http:8080->8080")
	}

	t.Run("while the agent runs", func(t *testing.T) {
		if err := w.c.CoreV1().ConfigMaps(w.ns).Delete(w.ctx(), stateCMName("mux"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		rebuilt := w.waitState("mux", doc)
		if rebuilt.UID == old.UID {
			t.Fatalf("state ConfigMap was not recreated")
		}
		if !reflect.DeepEqual(rebuilt.Labels, old.Labels) || !reflect.DeepEqual(rebuilt.Annotations, old.Annotations) {
			t.Errorf("rebuilt labels/annotations %v %v, want %v %v", rebuilt.Labels, rebuilt.Annotations, old.Labels, old.Annotations)
		}
		settleWrites(t, a, time.Second)
		after := w.waitMuxPorts("mux", want...)
		if !reflect.DeepEqual(after.Spec.Ports, mux.Spec.Ports) || after.ResourceVersion != mux.ResourceVersion {
			t.Errorf("mux changed (resourceVersion %s -> %s):\n%+v\n%+v", mux.ResourceVersion, after.ResourceVersion, mux.Spec.Ports, after.Spec.Ports)
		}
		checkChannels()
	})

	t.Run("and the placeholder written back while the agent is down", func(t *testing.T) {
		a.Stop()
		if err := w.c.CoreV1().ConfigMaps(w.ns).Delete(w.ctx(), stateCMName("mux"), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		w.writePlaceholderBack("mux")
		a2 := w.startAgent()
		w.waitMuxPorts("mux", want...)
		w.waitState("mux", doc)
		checkChannels()
		t.Logf("recovery writes: %d", settleWrites(t, a2, time.Second))
	})
}

// A corrupt or foreign state ConfigMap is reported and never written; owners
// keep serving, a new auto channel is refused, a new static channel works.
func TestAnUnreadableStateConfigMapIsLeftAloneAndOwnersKeepServing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(*corev1.ConfigMap)
		message string
	}{
		{"invalid JSON", func(cm *corev1.ConfigMap) { cm.Data["allocations.json"] = "{not json" }, "invalid JSON"},
		{"owned by another mux", func(cm *corev1.ConfigMap) { cm.Annotations["svc-mux.nowake.ai/mux"] = "other/mux" }, "other/mux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMuxWorld(t)
			w.createMux("mux", map[string]string{w.key("port-range"): "20000-20099"})
			w.createChannel("owner", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8080))
			w.createChannel("st", "mux", nil, chanTCP("http", 8080))
			a := w.startAgent()
			w.waitAccepted("owner", "http:8080->20000")
			w.waitAccepted("st", "http:8080->8080")
			before := nodePortsByName(w.waitMuxPorts("mux", w.hp("st", "http", 8080), w.hp("owner", "http", 20000)))
			w.waitState("mux", w.stateDocument("mux",
				stateClaim{Service: "owner", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true},
				stateClaim{Service: "st", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080}))
			settleWrites(t, a, 500*time.Millisecond)

			damaged := w.updateStateCM("mux", tc.damage)
			w.waitEvent("mux", "Warning", "PortAllocationStoreInvalid", tc.message)

			w.createChannel("newauto", "mux", map[string]string{w.key("external-ports"): "http:auto"}, chanTCP("http", 8080))
			w.createChannel("newstatic", "mux", nil, chanTCP("http", 9090))
			w.assertNoPortsAnnotation(w.waitRefused("newauto", "PortAllocationStoreInvalid", ""))
			w.waitEvent("newauto", "Warning", "PortAllocationStoreInvalid", "")
			w.waitAccepted("newstatic", "http:9090->9090")
			w.waitAccepted("owner", "http:8080->20000")
			w.waitAccepted("st", "http:8080->8080")
			after := w.waitMuxPorts("mux", w.hp("st", "http", 8080), w.hp("newstatic", "http", 9090), w.hp("owner", "http", 20000))
			for name, np := range before {
				if got := nodePortsByName(after)[name]; got != np {
					t.Errorf("owner port %s: NodePort %d -> %d", name, np, got)
				}
			}
			settleWrites(t, a, time.Second)
			cm := w.stateCM("mux")
			if cm.ResourceVersion != damaged.ResourceVersion || !reflect.DeepEqual(cm.Data, damaged.Data) ||
				!reflect.DeepEqual(cm.Annotations, damaged.Annotations) {
				t.Errorf("the agent wrote the unreadable state ConfigMap (resourceVersion %s -> %s): %v",
					damaged.ResourceVersion, cm.ResourceVersion, cm.Data)
			}
		})
	}
}
