package e2e

// GitOps re-application and state loss or damage (SPEC §3, §4): ownership
// survives another field manager writing the placeholder back, a deleted state
// ConfigMap, and a corrupt or foreign one, without moving a port.

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/test/world"
)

// gitopsManager is the field manager a GitOps tool writes with.
const gitopsManager = world.ManagerArgoCD

// placeholderOnly is the mux spec.ports a GitOps tool re-applies from Git.
var placeholderOnly = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}

// writePlaceholderBack replaces the mux spec.ports with the placeholder, as
// gitopsManager, by a full Update (Argo CD "Replace=true", kubectl replace).
func writePlaceholderBack(t *testing.T, w *world.World, mux string) *corev1.Service {
	t.Helper()
	out := w.UpdateService(mux, gitopsManager, func(s *corev1.Service) { s.Spec.Ports = placeholderOnly })
	if !reflect.DeepEqual(world.PortsOf(out), []world.Port{world.Placeholder}) {
		t.Fatalf("the GitOps write did not stick: %v", world.PortsOf(out))
	}
	return out
}

// threeChannels creates a mux with a range and a default, an explicit and an
// auto channel, waits until they converge and returns the expected mux ports
// and state document.
func threeChannels(w *world.World) ([]world.Port, string) {
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
	w.CreateChannel("web", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("pinned", "mux", map[string]string{w.Key("external-ports"): "http:30080"}, world.TCP("http", 80))
	w.CreateChannel("dyn", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8081))
	ports := []world.Port{w.MuxPort("web", "http", 8080), w.MuxPort("dyn", "http", 20000), w.MuxPort("pinned", "http", 30080)}
	doc := w.StateDocument("mux",
		world.StateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080},
		world.StateClaim{Service: "pinned", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 30080},
		world.StateClaim{Service: "dyn", PortName: "http", Protocol: "TCP", ChannelPort: 8081, MuxPort: 20000, Auto: true})
	return ports, doc
}

func waitThreeAccepted(w *world.World) {
	w.WaitAccepted("web", "http:8080->8080")
	w.WaitAccepted("pinned", "http:80->30080")
	w.WaitAccepted("dyn", "http:8081->20000")
}

// A GitOps tool writing the placeholder back (by Update or by merge patch) is
// undone: the same ports and owners return, with a bounded number of writes,
// and the state ConfigMap and channels are not touched.
func TestGitOpsPlaceholderIsRestoredWithTheSameOwners(t *testing.T) {
	w := world.New(t)
	w.Quiet()
	want, doc := threeChannels(w)
	a := w.StartAgent()
	original := world.NodePorts(w.WaitMuxPortsAssigned("mux", want...))
	waitThreeAccepted(w)
	w.WaitStateDoc("mux", doc)
	w.AwaitPass(a, "mux")
	cmVersion := w.State("mux").ResourceVersion // after the pass that remembers the NodePorts too
	channelVersions := func() map[string]string {
		out := map[string]string{}
		for _, n := range []string{"web", "pinned", "dyn"} {
			out[n] = w.Service(n).ResourceVersion
		}
		return out
	}
	channels := channelVersions()

	for _, episode := range []struct {
		name  string
		write func()
	}{
		{"by Update", func() { writePlaceholderBack(t, w, "mux") }},
		{"by merge patch", func() {
			out := w.PatchService("mux", gitopsManager, types.MergePatchType, `{"spec":{"ports":[{"name":"placeholder","port":101,"protocol":"TCP"}]}}`)
			if !reflect.DeepEqual(world.PortsOf(out), []world.Port{world.Placeholder}) {
				t.Fatalf("the GitOps patch did not stick: %v", world.PortsOf(out))
			}
		}},
	} {
		t.Run(episode.name, func(t *testing.T) {
			w.AwaitPass(a, "mux")
			before := a.Writes(t)
			began := time.Now()
			episode.write()
			restored := w.WaitMuxPortsAssigned("mux", want...)
			took := time.Since(began)
			w.AwaitPass(a, "mux") // every write of the restore has landed
			writes := a.Writes(t) - before
			t.Logf("restored in %v with %d agent write(s); NodePorts before %v, after %v",
				took.Round(time.Millisecond), writes, original, world.NodePorts(restored))
			if writes > 3 {
				t.Errorf("the agent made %d writes to restore the mux, want at most 3\n%s", writes, "agent log:\n"+a.LogTail(40))
			}
			waitThreeAccepted(w)
			if got := w.State("mux"); got.ResourceVersion != cmVersion || got.Data["allocations.json"] != doc {
				t.Errorf("state ConfigMap rewritten (resourceVersion %s -> %s):\n%s", cmVersion, got.ResourceVersion, got.Data["allocations.json"])
			}
			if got := channelVersions(); !reflect.DeepEqual(got, channels) {
				t.Errorf("channels written during the episode: %v -> %v", channels, got)
			}
			managers := map[string]bool{}
			for _, f := range w.Service("mux").ManagedFields {
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
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
	a := w.StartAgent()
	// zz-auto asks first and gets 20000; aa-auto gets 20001. Allocating afresh in
	// name order would swap them.
	w.CreateChannel("zz-auto", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8080))
	w.WaitAccepted("zz-auto", "http:8080->20000")
	w.CreateChannel("aa-auto", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8080))
	w.WaitAccepted("aa-auto", "http:8080->20001")
	w.CreateChannel("web", "mux", nil, world.TCP("http", 8080))
	w.WaitAccepted("web", "http:8080->8080")
	want := []world.Port{w.MuxPort("web", "http", 8080), w.MuxPort("zz-auto", "http", 20000), w.MuxPort("aa-auto", "http", 20001)}
	doc := w.StateDocument("mux",
		world.StateClaim{Service: "zz-auto", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true},
		world.StateClaim{Service: "aa-auto", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20001, Auto: true},
		world.StateClaim{Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080})
	w.WaitMuxPortsAssigned("mux", want...)
	old := w.WaitStateDoc("mux", doc)
	w.AwaitPass(a, "mux")
	mux := w.Service("mux") // after the pokes: the version the agent must leave alone

	checkChannels := func() {
		t.Helper()
		w.WaitAccepted("zz-auto", "http:8080->20000")
		w.WaitAccepted("aa-auto", "http:8080->20001")
		w.WaitAccepted("web", "http:8080->8080")
	}

	t.Run("while the agent runs", func(t *testing.T) {
		w.DeleteConfigMap(world.StateName("mux"))
		rebuilt := w.WaitStateDoc("mux", doc)
		if rebuilt.UID == old.UID {
			t.Fatalf("state ConfigMap was not recreated")
		}
		if !reflect.DeepEqual(rebuilt.Labels, old.Labels) || !reflect.DeepEqual(rebuilt.Annotations, old.Annotations) {
			t.Errorf("rebuilt labels/annotations %v %v, want %v %v", rebuilt.Labels, rebuilt.Annotations, old.Labels, old.Annotations)
		}
		// Poke a channel: the mux must keep its resourceVersion.
		w.AwaitPassPoking(a, "mux", "web")
		after := w.WaitMuxPortsAssigned("mux", want...)
		if !reflect.DeepEqual(after.Spec.Ports, mux.Spec.Ports) || after.ResourceVersion != mux.ResourceVersion {
			t.Errorf("mux changed (resourceVersion %s -> %s):\n%+v\n%+v", mux.ResourceVersion, after.ResourceVersion, mux.Spec.Ports, after.Spec.Ports)
		}
		checkChannels()
	})

	t.Run("and the placeholder written back while the agent is down", func(t *testing.T) {
		a.Stop()
		w.DeleteConfigMap(world.StateName("mux"))
		writePlaceholderBack(t, w, "mux")
		a2 := w.StartAgent()
		w.WaitMuxPortsAssigned("mux", want...)
		w.WaitStateDoc("mux", doc)
		checkChannels()
		w.AwaitPass(a2, "mux")
		t.Logf("recovery writes: %d", a2.Writes(t))
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
			w := world.New(t)
			w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20099"})
			w.CreateChannel("owner", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8080))
			w.CreateChannel("st", "mux", nil, world.TCP("http", 8080))
			a := w.StartAgent()
			w.WaitAccepted("owner", "http:8080->20000")
			w.WaitAccepted("st", "http:8080->8080")
			before := world.NodePorts(w.WaitMuxPortsAssigned("mux", w.MuxPort("st", "http", 8080), w.MuxPort("owner", "http", 20000)))
			w.WaitStateDoc("mux", w.StateDocument("mux",
				world.StateClaim{Service: "owner", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Auto: true},
				world.StateClaim{Service: "st", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 8080}))
			w.AwaitPass(a, "mux")

			damaged := w.UpdateConfigMap(world.StateName("mux"), "e2e", tc.damage)
			w.WaitEvent("mux", "Warning", "PortAllocationStoreInvalid", tc.message)

			w.CreateChannel("newauto", "mux", map[string]string{w.Key("external-ports"): "http:auto"}, world.TCP("http", 8080))
			w.CreateChannel("newstatic", "mux", nil, world.TCP("http", 9090))
			w.NoPortsAnnotation(w.WaitRejected("newauto", "PortAllocationStoreInvalid", ""))
			w.WaitEvent("newauto", "Warning", "PortAllocationStoreInvalid", "")
			w.WaitAccepted("newstatic", "http:9090->9090")
			w.WaitAccepted("owner", "http:8080->20000")
			w.WaitAccepted("st", "http:8080->8080")
			after := w.WaitMuxPortsAssigned("mux", w.MuxPort("st", "http", 8080), w.MuxPort("newstatic", "http", 9090), w.MuxPort("owner", "http", 20000))
			for name, np := range before {
				if got := world.NodePorts(after)[name]; got != np {
					t.Errorf("owner port %s: NodePort %d -> %d", name, np, got)
				}
			}
			w.AwaitPass(a, "mux")
			cm := w.State("mux")
			if cm.ResourceVersion != damaged.ResourceVersion || !reflect.DeepEqual(cm.Data, damaged.Data) ||
				!reflect.DeepEqual(cm.Annotations, damaged.Annotations) {
				t.Errorf("the agent wrote the unreadable state ConfigMap (resourceVersion %s -> %s): %v",
					damaged.ResourceVersion, cm.ResourceVersion, cm.Data)
			}
		})
	}
}
