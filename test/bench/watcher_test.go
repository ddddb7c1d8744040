package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// watcher follows the scenario's Services with its own informer and notes the
// moment the last of them reached its converged state.
type watcher struct {
	sc      scenario
	ingress map[string]string
	updates atomic.Int64 // Service updates seen (for the idle check)

	mu        sync.Mutex
	channelOK map[string]bool
	muxOK     map[string]bool
	nChannels int
	nMuxes    int
	done      chan struct{}
	doneAt    time.Time
}

func watchConvergence(t *testing.T, c kubernetes.Interface, ns string, sc scenario, ingress map[string]string) *watcher {
	w := &watcher{sc: sc, ingress: ingress, channelOK: map[string]bool{}, muxOK: map[string]bool{}, done: make(chan struct{})}
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Services().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { w.observe(obj) },
		UpdateFunc: func(_, obj any) {
			w.updates.Add(1)
			w.observe(obj)
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

func (w *watcher) observe(obj any) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.HasPrefix(svc.Name, "mux-") {
		set(w.muxOK, svc.Name, w.muxConverged(svc), &w.nMuxes)
	} else if i, err := strconv.Atoi(strings.TrimPrefix(svc.Name, "ch-")); err == nil {
		set(w.channelOK, svc.Name, w.channelConverged(svc, i), &w.nChannels)
	}
	if w.nChannels == w.sc.channels() && w.nMuxes == w.sc.muxes && w.doneAt.IsZero() {
		w.doneAt = now
		close(w.done)
	}
}

func set(m map[string]bool, k string, v bool, n *int) {
	if m[k] != v {
		if v {
			*n++
		} else {
			*n--
		}
	}
	m[k] = v
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

func (w *watcher) muxConverged(svc *corev1.Service) bool {
	if len(svc.Spec.Ports) != w.sc.perMux {
		return false
	}
	for _, p := range svc.Spec.Ports {
		if p.Port < basePort || p.Port >= basePort+int32(w.sc.perMux) {
			return false
		}
	}
	return true
}

func (w *watcher) describe() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d of %d channels and %d of %d muxes converged", w.nChannels, w.sc.channels(), w.nMuxes, w.sc.muxes)
}

// --- helpers -----------------------------------------------------------------

// fastClient is an admin client without client-side rate limiting worth the name.
func fastClient(t *testing.T, cp *controlplane.ControlPlane) kubernetes.Interface {
	cfg := cp.Config()
	cfg.QPS, cfg.Burst = 100000, 100000
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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

func waitNamespacesGone(t *testing.T, c kubernetes.Interface, names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, ns := range names {
		for {
			_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				break // gone (or the server is: nothing to wait for)
			}
			select {
			case <-ctx.Done():
				t.Logf("namespace %s still terminating after 5m; going on", ns)
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// loadAvg is the 1-minute load average (the machine is shared).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
