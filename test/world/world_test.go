package world_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// One walk through the whole world, as the e2e tests use it: a mux with a
// range, a TCP, a UDP and an auto channel, the agent, the waits, the state,
// the cloud's ingress copied to the channels, and the pass signal.
func TestAWorldRunsTheAgentOverAMuxAndItsChannels(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	w.CreateServices([]*corev1.Service{
		w.ChannelObject("dns", "mux", nil, world.UDP("dns", 53)),
		w.ChannelObject("auto", "mux", w.ExternalPorts("web:auto"), world.To(world.TCP("web", 80), 8000)),
	})
	node := w.Node("192.0.2.30")
	w.ReadyPod("api-0", "api", node, "10.244.1.10", corev1.ContainerPort{Name: "http", ContainerPort: 8080})

	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitAccepted("dns", "dns:53->53")
	w.WaitAccepted("auto", "web:80->20000")
	w.WaitMuxPorts("mux",
		w.MuxPort("dns", "dns", 53, corev1.ProtocolUDP),
		w.MuxPort("api", "http", 8080),
		w.MuxPort("auto", "web", 20000))

	claims := w.Claims("mux")
	if len(claims) != 3 {
		t.Fatalf("want 3 claims, got %+v", claims)
	}
	if cm := w.State("mux"); cm.Name != "mux-port-allocations" {
		t.Errorf("state ConfigMap %q", cm.Name)
	}

	w.SetIngress("mux", "203.0.113.7")
	api, err := w.WaitChannelE("api", func(s *corev1.Service) bool {
		return len(s.Status.LoadBalancer.Ingress) == 1 && s.Status.LoadBalancer.Ingress[0].IP == "203.0.113.7"
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Accepted(api); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("api condition %+v", c)
	}

	// The positive signal: after it, the agent has looked at the mux, so an
	// unchanged write counter means "nothing to do", not "not yet".
	w.AwaitPass(a, "mux")
	before := a.Writes(t)
	w.AwaitPass(a, "mux")
	if after := a.Writes(t); after != before {
		t.Errorf("an idle pass wrote: %d writes before, %d after\n%s", before, after, a.LogTail(30))
	}
}

func TestARejectedChannelIsWaitedForByReasonAndMessage(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateChannel("owner", "mux", nil, world.TCP("http", 8080))
	w.StartAgent()
	w.WaitAccepted("owner", "http:8080->8080")
	w.CreateChannel("late", "mux", nil, world.TCP("http", 8080))
	w.WaitRejected("late", "MuxPortConflict", "8080/TCP")
	w.WaitEvent("late", corev1.EventTypeWarning, "MuxPortConflict", "8080/TCP")
}

func TestAWaitThatTimesOutSaysWhatItLastSaw(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil) // no agent runs: the placeholder stays
	w.Timeout = 300 * time.Millisecond
	_, err := w.WaitMuxPortsE("mux", w.MuxPort("api", "http", 8080))
	if err == nil {
		t.Fatal("want a timeout")
	}
	for _, want := range []string{"not met within 300ms", "last observed", "placeholder:101/TCP"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// The API server names a write's manager after the client's User-Agent when
// the request names none, so ClientAs makes any code write as Argo CD.
func TestWritersAreRecordedUnderTheirFieldManager(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	argo := w.ClientAs(world.ManagerArgoCD)
	svc := w.Service("mux")
	svc.Labels = map[string]string{"team": "a"}
	if _, err := argo.CoreV1().Services(w.Namespace).Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.SetAnnotation("mux", world.ManagerKubectlClient, "note", world.Ptr("x"))
	w.Apply("flux", `
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
data:
  k: v
`, false)

	managers := world.Managers(w.Service("mux"))
	for _, want := range []string{world.ManagerArgoCD + "/Update", world.ManagerKubectlClient + "/Update"} {
		if !slices.Contains(managers, want) {
			t.Errorf("mux managers %v, want %s among them", managers, want)
		}
	}
	cm, err := w.ConfigMapE("applied")
	if err != nil || cm == nil {
		t.Fatalf("applied ConfigMap: %v %v", cm, err)
	}
	if m := world.Managers(cm); !slices.Equal(m, []string{"flux/Apply"}) {
		t.Errorf("ConfigMap managers %v", m)
	}
}

func TestTheStateNameIsShortenedPastSixtyThreeCharacters(t *testing.T) {
	if got := world.StateName("mux"); got != "mux-port-allocations" {
		t.Errorf("StateName(mux) = %q", got)
	}
	long := strings.Repeat("m", 60)
	// printf 'mmm…m' (60 m) | sha256sum | cut -c1-8
	want := strings.Repeat("m", 54) + "-" + "25a54e63"
	if got := world.StateName(long); got != want {
		t.Errorf("StateName(60 m) = %q, want %q", got, want)
	}
}

func TestThePluginRunnerReturnsOutputAndExitCode(t *testing.T) {
	w := world.New(t)
	res := w.Plugin("version")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "plugin") {
		t.Errorf("version: %s", res)
	}
	bad := w.Plugin("--no-such-flag")
	if bad.ExitCode == 0 || bad.Stderr == "" {
		t.Errorf("an unknown flag: %s", bad)
	}
}

func TestAnAgentStartedWithoutATestIsStoppedByItsCaller(t *testing.T) {
	w := world.New(t)
	a, err := w.StartAgentE(filepath.Join(t.TempDir(), "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	a.Stop()
	if !a.Exited() {
		t.Error("agent still running after Stop")
	}
}

// The pass signals count this mux's passes only (svcmux_mux_passes_total), and
// the two that do not poke the mux leave its resourceVersion alone, so a test
// can assert that the mux itself was not written.
func TestThePassSignalsCountOneMuxAndLeaveItUnwritten(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", nil)
	w.CreateMux("other", nil)
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.AwaitPasses(a, "mux", 1)
	w.AwaitPass(a, "mux") // the agent's own writes have landed
	mux := w.Service("mux")
	before, err := a.PassesOfE(w.Namespace, "mux")
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.PassesOfE(w.Namespace, "other")
	if err != nil {
		t.Fatal(err)
	}

	w.AwaitPassPoking(a, "mux", "api")
	after, err := a.PassesOfE(w.Namespace, "mux")
	if err != nil {
		t.Fatal(err)
	}
	if after < before+2 {
		t.Errorf("passes of mux %v after two pokes, want at least %v", after, before+2)
	}
	if got, err := a.PassesOfE(w.Namespace, "other"); err != nil || got != other {
		t.Errorf("passes of other %v (%v) after poking mux's channel, want still %v", got, err, other)
	}
	if got := w.Service("mux"); got.ResourceVersion != mux.ResourceVersion {
		t.Errorf("mux written while its channel was poked: rv %s -> %s", mux.ResourceVersion, got.ResourceVersion)
	}
}
