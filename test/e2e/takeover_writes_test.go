package e2e

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/nowakeai/svcmux/test/world"
)

// TestTakeoverWritesEachChannelOnce counts, on a watch of the channels
// opened before the agent starts, what taking over the Python controller's
// channels costs: per channel one write removing kopf's finalizer and one
// status write, with no resourceVersion conflict between the agent's own
// writes and no write sent again once applied (SPEC §5: every write is
// skipped when nothing changed).
func TestTakeoverWritesEachChannelOnce(t *testing.T) {
	w := world.New(t)
	w.Quiet() // it reads the agent's conflict counter
	py := pythonLeftovers(t, w, olderState(w))
	writes := watchWrites(t, w, "api", "web")
	a := w.StartAgent()
	w.WaitMuxEndpoints("mux", wantPythonEraEndpoints(w, py))
	assertNothingMoved(t, w, py)
	w.AwaitPass(a, "mux") // a retry or a repeated write would have landed by now

	want := map[string][]string{"api": {"finalizers", "status"}, "web": {"finalizers", "status"}}
	if got := writes.get(); !reflect.DeepEqual(got, want) {
		t.Errorf("writes to the channels (what each changed): %v, want %v\nagent log:\n%s", got, want, a.LogTail(40))
	}
	if n, err := a.Metric("svcmux_write_conflicts_total"); err != nil || n != 0 {
		t.Errorf("%v write conflicts between the agent's own writes (%v), want 0", n, err)
	}
}

// channelWrites records, per Service, what each write seen on a watch
// changed: "finalizers", "status", "spec", "annotations" or "labels" (a write
// changing several lists them joined by "+"), sorted.
type channelWrites struct {
	mu   sync.Mutex
	seen map[string][]string
}

// watchWrites watches the World's Services from now on and records the writes
// to the named ones.
func watchWrites(t *testing.T, w *world.World, names ...string) *channelWrites {
	t.Helper()
	list, err := w.Client.CoreV1().Services(w.Namespace).List(w.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]*corev1.Service{}
	for i := range list.Items {
		if slices.Contains(names, list.Items[i].Name) {
			last[list.Items[i].Name] = &list.Items[i]
		}
	}
	sw, err := w.Client.CoreV1().Services(w.Namespace).Watch(w.Context(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Stop)
	cw := &channelWrites{seen: map[string][]string{}}
	go func() {
		for ev := range sw.ResultChan() {
			s, ok := ev.Object.(*corev1.Service)
			if !ok || ev.Type != watch.Modified || last[s.Name] == nil {
				continue
			}
			prev := last[s.Name]
			var parts []string
			for _, c := range []struct {
				name    string
				changed bool
			}{
				{"annotations", !reflect.DeepEqual(prev.Annotations, s.Annotations)},
				{"finalizers", !reflect.DeepEqual(prev.Finalizers, s.Finalizers)},
				{"labels", !reflect.DeepEqual(prev.Labels, s.Labels)},
				{"spec", !equality.Semantic.DeepEqual(prev.Spec, s.Spec)},
				{"status", !equality.Semantic.DeepEqual(prev.Status, s.Status)},
			} {
				if c.changed {
					parts = append(parts, c.name)
				}
			}
			last[s.Name] = s
			cw.mu.Lock()
			cw.seen[s.Name] = append(cw.seen[s.Name], strings.Join(parts, "+"))
			slices.Sort(cw.seen[s.Name])
			cw.mu.Unlock()
		}
	}()
	return cw
}

func (cw *channelWrites) get() map[string][]string {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	out := map[string][]string{}
	for k, v := range cw.seen {
		out[k] = slices.Clone(v)
	}
	return out
}
