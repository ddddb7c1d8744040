package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// watcher follows the scenario's Services with its own informer and notes the
// moment every channel it expects, and every mux, reached its converged state.
type watcher struct {
	sc      scenario
	ingress map[string]string
	updates atomic.Int64 // Service updates seen (for the idle check)

	mu      sync.Mutex
	latest  map[string]*corev1.Service // every Service seen, by name
	want    map[string]int             // expected channel name -> index
	muxWant map[string]map[int32]bool  // mux -> the ports of its expected channels
	ok      map[string]bool            // expected channels and muxes converged
	nOK     int
	done    chan struct{}
	doneAt  time.Time
}

func watchConvergence(t *testing.T, c kubernetes.Interface, ns string, sc scenario, ingress map[string]string) *watcher {
	w := &watcher{sc: sc, ingress: ingress, latest: map[string]*corev1.Service{}}
	w.expect(seq(0, sc.channels()))
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Services().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { w.observe(obj, false) },
		UpdateFunc: func(_, obj any) {
			w.updates.Add(1)
			w.observe(obj, false)
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.observe(obj, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		factory.Shutdown()
	})
	factory.Start(stop)
	if !cache.WaitForCacheSync(t.Context().Done(), inf.HasSynced) {
		t.Fatal("bench informer did not sync")
	}
	return w
}

// seq is from, from+1, ..., to-1.
func seq(from, to int) []int {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// expect makes channels (by index) the converged set to wait for: done is a
// new channel, closed once they all are converged and each mux serves exactly
// their ports.
func (w *watcher) expect(channels []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want, w.muxWant = map[string]int{}, map[string]map[int32]bool{}
	for m := range w.sc.muxes {
		w.muxWant[muxName(m)] = map[int32]bool{}
	}
	for _, i := range channels {
		w.want[channelName(i)] = i
		w.muxWant[muxOf(w.sc, i)][portOf(w.sc, i)] = true
	}
	w.ok, w.nOK, w.done, w.doneAt = map[string]bool{}, 0, make(chan struct{}), time.Time{}
	for name, svc := range w.latest {
		w.judge(name, svc)
	}
	w.check(time.Now())
}

// converged returns the channel closed by the current expect's convergence,
// and the moment it happened.
func (w *watcher) converged() (<-chan struct{}, func() time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	done := w.done
	return done, func() time.Time {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.doneAt
	}
}

func (w *watcher) observe(obj any, deleted bool) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	name := svc.Name
	if deleted {
		delete(w.latest, name)
		svc = nil
	} else {
		w.latest[name] = svc
	}
	w.judge(name, svc)
	w.check(now)
}

// judge updates name's converged mark from svc (nil: deleted).
func (w *watcher) judge(name string, svc *corev1.Service) {
	var v bool
	if ports, isMux := w.muxWant[name]; isMux {
		v = svc != nil && muxConverged(svc, ports)
	} else if i, expected := w.want[name]; expected {
		v = svc != nil && w.channelConverged(svc, i)
	} else {
		return
	}
	if w.ok[name] != v {
		if v {
			w.nOK++
		} else {
			w.nOK--
		}
	}
	w.ok[name] = v
}

func (w *watcher) check(now time.Time) {
	if w.nOK == len(w.want)+len(w.muxWant) && w.doneAt.IsZero() {
		w.doneAt = now
		close(w.done)
	}
}

func (w *watcher) channelConverged(svc *corev1.Service, i int) bool {
	p := portOf(w.sc, i)
	if svc.Annotations[keys.Ports] != fmt.Sprintf("%s:%d->%d", portName, p, p) {
		return false
	}
	if in := svc.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != w.ingress[muxOf(w.sc, i)] {
		return false
	}
	for _, c := range svc.Status.Conditions {
		if c.Type == keys.AcceptedCondition {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}

// muxConverged: the mux serves exactly want (the default mapping: each
// channel's port number is its public port).
func muxConverged(svc *corev1.Service, want map[int32]bool) bool {
	if len(svc.Spec.Ports) != len(want) {
		return false
	}
	for _, p := range svc.Spec.Ports {
		if !want[p.Port] {
			return false
		}
	}
	return true
}

func (w *watcher) describe() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d of %d channels and muxes converged", w.nOK, len(w.want)+len(w.muxWant))
}

// --- helpers -----------------------------------------------------------------

// parallel runs fn(0..n-1) on `workers` goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// waitNamespacesGone waits for the deletion of each namespace, whose Services it
// deletes itself first, `workers` at once: the namespace controller deletes one
// Service at a time (Services have no deletecollection), and over the floor's
// 10,100 of d-5000x50-cold it was not done in 5 minutes, while the agent's
// measurement would share the API server with it (with this: 3m20s).
func waitNamespacesGone(t *testing.T, c kubernetes.Interface, names []string) {
	// Long: the next scenario must not start beside a namespace still being
	// emptied. The floor of d-5000x50-cold leaves 15,000 Services behind, about
	// 5.5 minutes of deletion on this machine (each releases a ClusterIP and a
	// NodePort); deleting their EndpointSlices and Endpoints by collection
	// first did not shorten it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, ns := range names {
		if err := deleteServices(ctx, c, ns); err != nil {
			t.Logf("deleting the Services of namespace %s: %v; the namespace controller goes on", ns, err)
		}
	}
	for _, ns := range names {
		for {
			_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				break // gone (or the server is: nothing to wait for)
			}
			select {
			case <-ctx.Done():
				t.Logf("namespace %s still terminating after 15m; going on", ns)
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// deleteServices deletes every Service in ns, `workers` at once.
func deleteServices(ctx context.Context, c kubernetes.Interface, ns string) error {
	list, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	return parallel(len(list.Items), workers, func(i int) error {
		err := c.CoreV1().Services(ns).Delete(ctx, list.Items[i].Name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// loadAvg is the 1-minute load average (the machine is shared).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
