package e2e

// Helpers for ownership_test.go, gitops_test.go and config_test.go. Every
// top-level name here is specific (muxWorld, pubPort, stateClaim, ...) so it
// does not clash with helpers written beside it; most helpers are methods.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

// waitState waits until the state ConfigMap of mux holds exactly want.
func (w *muxWorld) waitState(mux, want string) *corev1.ConfigMap {
	w.t.Helper()
	var cm *corev1.ConfigMap
	controlplane.Eventually(w.t, waitLimit, func() (bool, string) {
		cm = w.stateCM(mux)
		if cm == nil {
			return false, "state ConfigMap absent"
		}
		got := cm.Data["allocations.json"]
		return got == want, fmt.Sprintf("allocations.json:\n%s\nwant:\n%s", got, want)
	})
	return cm
}

// updateStateCM rewrites the state ConfigMap with mutate.
func (w *muxWorld) updateStateCM(mux string, mutate func(*corev1.ConfigMap)) *corev1.ConfigMap {
	w.t.Helper()
	var out *corev1.ConfigMap
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := w.c.CoreV1().ConfigMaps(w.ns).Get(w.ctx(), stateCMName(mux), metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cm)
		out, err = w.c.CoreV1().ConfigMaps(w.ns).Update(w.ctx(), cm, metav1.UpdateOptions{FieldManager: "e2e"})
		return err
	})
	if err != nil {
		w.t.Fatalf("update state ConfigMap of %s: %v", mux, err)
	}
	return out
}

// stateClaim is one claim of the state document (SPEC §4).
type stateClaim struct {
	Service, PortName string
	Protocol          corev1.Protocol
	ChannelPort       int32
	MuxPort           int32
	Auto              bool
}

// stateDocument renders the state document the contract asks for: sorted keys,
// two-space indent, no trailing newline (Python's json.dumps(indent=2,
// sort_keys=True), which encoding/json matches for ASCII content).
func (w *muxWorld) stateDocument(mux string, claims ...stateClaim) string {
	w.t.Helper()
	sort.Slice(claims, func(i, j int) bool {
		key := func(c stateClaim) string {
			return strings.Join([]string{string(c.Protocol), w.ns, c.Service, c.PortName}, ":")
		}
		return key(claims[i]) < key(claims[j])
	})
	all, auto := []any{}, []any{}
	for _, c := range claims {
		source := "static"
		if c.Auto {
			source = "auto"
		}
		m := map[string]any{"channelPort": c.ChannelPort, "muxPort": c.MuxPort, "namespace": w.ns,
			"port": c.MuxPort, "portName": c.PortName, "protocol": string(c.Protocol), "service": c.Service, "source": source}
		all = append(all, m)
		if c.Auto {
			auto = append(auto, m)
		}
	}
	b, err := json.MarshalIndent(map[string]any{
		"allocations": auto, "mux": map[string]string{"name": mux, "namespace": w.ns},
		"portClaims": all, "schemaVersion": 1,
	}, "", "  ")
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// settleWrites waits until the agent's write counter has not moved for quiet (at
// most waitLimit) and returns it.
func settleWrites(t *testing.T, a *agentrun.Agent, quiet time.Duration) int {
	t.Helper()
	last, since := a.Writes(t), time.Now()
	deadline := time.Now().Add(waitLimit)
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			t.Fatalf("agent still writing after %v (%d writes)\n%s", waitLimit, last, a.LogTail(30))
		}
		time.Sleep(100 * time.Millisecond)
		if n := a.Writes(t); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// waitOtherNamespacesGone waits (bounded) until earlier tests' namespaces are
// deleted: an agent watches every namespace, so objects still being torn down
// elsewhere could make it write while a test counts writes.
func (w *muxWorld) waitOtherNamespacesGone() {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		list, err := w.c.CoreV1().Namespaces().List(w.ctx(), metav1.ListOptions{})
		if err != nil {
			w.t.Fatalf("list namespaces: %v", err)
		}
		var others []string
		for _, n := range list.Items {
			if strings.HasPrefix(n.Name, "e2e-") && n.Name != w.ns {
				others = append(others, n.Name)
			}
		}
		if len(others) == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Logf("namespaces still terminating after %v: %v", waitLimit, others)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sliceVersions maps the mux's EndpointSlices to their resourceVersions.
func (w *muxWorld) sliceVersions(mux string) map[string]string {
	out := map[string]string{}
	for _, s := range w.cp.EndpointSlices(w.t, w.ns, mux) {
		out[s.Name] = s.ResourceVersion
	}
	return out
}

// agentLogTail is the tail of an agent's log for failure messages.
func agentLogTail(a *agentrun.Agent) string { return "agent log:\n" + a.LogTail(40) }
