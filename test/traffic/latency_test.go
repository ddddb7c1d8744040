package traffic

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/test/dataplane"
	sw "github.com/nowakeai/svcmux/test/world"
)

// latencyChannels is how many channels TestTimeToFirstConnection creates.
const latencyChannels = 50

// The time from a channel created (its pod already ready) to the first
// connection through the mux that reaches that pod, over 50 channels
// created about two per second (jittered, not waiting for each other), so
// each meets kube-proxy's 1 s sync rate limit at a random phase. Broken
// down: channel created → mux port written by the agent → mux endpoints
// ready (agent, after the endpointslice controller) → first answer via the
// cluster IP and via the load-balancer IP (kube-proxy). It asserts that every
// channel is answered on both paths within converge and that every stage was
// observed for every channel; the numbers are reported, not judged (two
// shared cores make them noisy).
func TestTimeToFirstConnection(t *testing.T) {
	w := newWorld(t, "")
	w.createMux("mux", nil)
	pods := make([]*dataplane.Pod, latencyChannels)
	for i := range pods {
		pods[i] = w.addPod(fmt.Sprintf("ch%02d-0", i), fmt.Sprintf("ch%02d", i), tcp("http", 8080))
	}
	w.startAgent()
	mux, err := w.c.CoreV1().Services(w.ns).Get(w.ctx(), "mux", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Watch the mux and its EndpointSlices to time the agent's part.
	var mu sync.Mutex
	portSeen := map[int32]time.Time{}   // public port → first seen on the mux
	sliceSeen := map[string]time.Time{} // mux port name → first ready endpoint
	factory := informers.NewSharedInformerFactoryWithOptions(w.c, 0, informers.WithNamespace(w.ns))
	onService := func(obj any) {
		svc, ok := obj.(*corev1.Service)
		if !ok || svc.Name != "mux" {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range svc.Spec.Ports {
			if _, ok := portSeen[p.Port]; !ok {
				portSeen[p.Port] = now
			}
		}
	}
	onSlice := func(obj any) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] != "mux" {
			return
		}
		now := time.Now()
		ready := false
		for _, e := range s.Endpoints {
			ready = ready || e.Conditions.Ready == nil || *e.Conditions.Ready
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range s.Ports {
			if _, ok := sliceSeen[*p.Name]; !ok && ready {
				sliceSeen[*p.Name] = now
			}
		}
	}
	svcInf := factory.Core().V1().Services().Informer()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	_, _ = svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onService, UpdateFunc: func(_, o any) { onService(o) }})
	_, _ = sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onSlice, UpdateFunc: func(_, o any) { onSlice(o) }})
	stop := make(chan struct{})
	factory.Start(stop)
	defer func() { close(stop); factory.Shutdown() }()
	factory.WaitForCacheSync(stop)

	type timing struct{ clusterIP, lb time.Duration }
	timings := make([]timing, latencyChannels)
	created := make([]time.Time, latencyChannels)
	var wg sync.WaitGroup
	errs := make(chan error, 2*latencyChannels)
	for i := range latencyChannels {
		public := int32(24000 + i)
		name := fmt.Sprintf("ch%02d", i)
		want := answer(pods[i], 8080, corev1.ProtocolTCP)
		created[i] = time.Now()
		w.createChannel(name, "mux", nil, svcPort("http", public, intstr.FromInt32(8080), corev1.ProtocolTCP))
		// Probe until the first right answer, 20 ms apart, within converge.
		for _, via := range []dataplane.Via{dataplane.ViaClusterIP, dataplane.ViaLoadBalancer} {
			addr, err := w.node.Address(via, mux, corev1.ServicePort{Port: public})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				var last string
				for time.Since(created[i]) < converge {
					got, err := w.node.Ask(w.ctx(), via, corev1.ProtocolTCP, addr, dataplane.DefaultTimeout)
					if err == nil && got == want {
						d := time.Since(created[i])
						mu.Lock()
						if via == dataplane.ViaClusterIP {
							timings[i].clusterIP = d
						} else {
							timings[i].lb = d
						}
						mu.Unlock()
						return
					}
					last = fmt.Sprint(got, err)
					time.Sleep(20 * time.Millisecond)
				}
				errs <- fmt.Errorf("%s via %s %s: no answer from %s within %v (last: %s)", name, via, addr, want, converge, last)
			})
		}
		time.Sleep(250*time.Millisecond + rand.N(500*time.Millisecond))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	mu.Lock()
	var port, slice, cip, lb []time.Duration
	for i := range timings {
		if ts, ok := portSeen[int32(24000+i)]; ok {
			port = append(port, ts.Sub(created[i]))
		}
		if ts, ok := sliceSeen[sw.PortName(w.ns, fmt.Sprintf("ch%02d", i), "http")]; ok {
			slice = append(slice, ts.Sub(created[i]))
		}
		cip = append(cip, timings[i].clusterIP)
		lb = append(lb, timings[i].lb)
	}
	mu.Unlock()
	t.Logf("channel created → (%d channels, %s mode, created every 250-750 ms):", latencyChannels, w.node.Mode)
	for _, row := range []struct {
		what string
		d    []time.Duration
	}{
		{"mux port written (agent)", port},
		{"mux endpoints ready (agent)", slice},
		{"first answer via cluster IP", cip},
		{"first answer via load-balancer IP", lb},
	} {
		sortDurations(row.d)
		// Every channel was answered, so its mux port and ready endpoints
		// existed: the watches must have seen each one, or the numbers lie.
		if len(row.d) != latencyChannels {
			t.Errorf("%s: observed for %d of %d channels", row.what, len(row.d), latencyChannels)
			continue
		}
		t.Logf("  %-34s n=%d p50 %v  p99 %v  max %v", row.what, len(row.d),
			percentile(row.d, 50).Round(time.Millisecond), percentile(row.d, 99).Round(time.Millisecond),
			row.d[len(row.d)-1].Round(time.Millisecond))
	}
}
