package faults

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/nowakeai/svcmux/test/world"
)

// published is a mux spec.ports entry as a client sees it, NodePort included.
type published struct {
	Port     int32
	Protocol corev1.Protocol
	NodePort int32
}

func (p published) String() string {
	return fmt.Sprintf("%d/%s nodePort %d", p.Port, p.Protocol, p.NodePort)
}

// observer watches one mux, its channels and its state ConfigMap for the whole of a
// fault and records every version it is told of (a watch delivers each one; a relist
// after a broken watch, only the latest). It fails the fault on what must never be
// seen even for an instant, however the run ends:
//   - a published port moved: a mux port name (one channel port's identity) seen
//     with another number, protocol or NodePort than when first published;
//   - an owner flip: a (port, protocol) claimed in the state by another channel
//     than its first claimant, or a claim moved to another port;
//   - a claim pruned (a relist or a partial view must never drop one);
//   - two owners: two claims, or two channels' ports annotations, on one port;
//   - a channel's ports annotation changed once set.
//
// Nothing in these faults edits or deletes a channel, so each of these is a fault.
type observer struct {
	w   *world.World
	mux string

	mu          sync.Mutex
	ports       map[string]published // mux port name -> as first published
	owners      map[string]string    // "port/proto" -> "ns/svc/portName" first claiming it
	claimed     map[string]string    // "ns/svc/portName" -> "port/proto" first claimed
	annotations map[string]string    // channel -> its first non-empty ports annotation
	current     map[string]*corev1.Service
	muxNow      *corev1.Service
	stateNow    *corev1.ConfigMap
	faults      []string
	muxVersions int // mux versions observed
	placeholder int // mux versions observed carrying the placeholder port
}

// observe starts watching before the fault starts; it stops when the test ends.
func observe(t testing.TB, w *world.World, mux string) *observer {
	t.Helper()
	o := &observer{w: w, mux: mux, ports: map[string]published{}, owners: map[string]string{},
		claimed: map[string]string{}, annotations: map[string]string{}, current: map[string]*corev1.Service{}}
	f := informers.NewSharedInformerFactoryWithOptions(w.Client, 0, informers.WithNamespace(w.Namespace))
	svc := f.Core().V1().Services().Informer()
	cms := f.Core().V1().ConfigMaps().Informer()
	_, err := svc.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.service(obj.(*corev1.Service)) },
		UpdateFunc: func(_, obj any) { o.service(obj.(*corev1.Service)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cms.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.configMap(obj.(*corev1.ConfigMap)) },
		UpdateFunc: func(_, obj any) { o.configMap(obj.(*corev1.ConfigMap)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	f.Start(stop)
	t.Cleanup(func() { close(stop); f.Shutdown() })
	if !cache.WaitForCacheSync(t.Context().Done(), svc.HasSynced, cms.HasSynced) {
		t.Fatal("observer caches did not sync")
	}
	return o
}

func (o *observer) fault(format string, args ...any) {
	if len(o.faults) < 1000 {
		o.faults = append(o.faults, fmt.Sprintf(format, args...))
	}
}

func (o *observer) service(s *corev1.Service) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.Name == o.mux {
		o.observeMux(s)
		return
	}
	o.current[s.Name] = s
	ann := s.Annotations[o.w.Key("ports")]
	if first, seen := o.annotations[s.Name]; seen && ann != first {
		o.fault("channel %s: ports annotation %q changed to %q (resourceVersion %s)", s.Name, first, ann, s.ResourceVersion)
	} else if !seen && ann != "" {
		o.annotations[s.Name] = ann
	}
	o.checkAnnotationOwners(s)
}

func (o *observer) observeMux(s *corev1.Service) {
	o.muxNow = s
	o.muxVersions++
	for _, p := range s.Spec.Ports {
		if p.Name == "placeholder" {
			o.placeholder++
			continue
		}
		now := published{Port: p.Port, Protocol: p.Protocol, NodePort: p.NodePort}
		first, seen := o.ports[p.Name]
		switch {
		case !seen:
			o.ports[p.Name] = now
		case first != now:
			o.fault("mux port %s moved: published as %s, now %s (resourceVersion %s)", p.Name, first, now, s.ResourceVersion)
		}
	}
}

// checkAnnotationOwners: no other channel's current ports annotation names one of
// s's mux ports. The annotation reads "name:port->muxPort, ..."; the protocol is
// the named port's.
func (o *observer) checkAnnotationOwners(s *corev1.Service) {
	mine := annotatedPorts(s, o.w.Key("ports"))
	for name, other := range o.current {
		if name == s.Name {
			continue
		}
		for p := range annotatedPorts(other, o.w.Key("ports")) {
			if mine[p] {
				o.fault("port %s in the ports annotations of both %s and %s", p, s.Name, name)
			}
		}
	}
}

func annotatedPorts(s *corev1.Service, key string) map[string]bool {
	proto := map[string]corev1.Protocol{}
	for _, p := range s.Spec.Ports {
		proto[p.Name] = p.Protocol
	}
	out := map[string]bool{}
	for _, item := range strings.Split(s.Annotations[key], ",") {
		name, rest, ok := strings.Cut(strings.TrimSpace(item), ":")
		if _, mux, ok2 := strings.Cut(rest, "->"); ok && ok2 {
			out[mux+"/"+string(proto[name])] = true
		}
	}
	return out
}

func (o *observer) configMap(cm *corev1.ConfigMap) {
	if cm.Name != world.StateName(o.mux) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stateNow = cm
	doc, err := world.DecodeState(cm)
	if err != nil {
		o.fault("state %s: %v", cm.Name, err)
		return
	}
	now, owners := map[string]string{}, map[string]bool{}
	for _, c := range doc.PortClaims {
		owners[c.Namespace+"/"+c.Service+"/"+c.PortName] = true
	}
	for owner, port := range o.claimed {
		if !owners[owner] {
			o.fault("state (resourceVersion %s): claim of %s on %s pruned", cm.ResourceVersion, owner, port)
		}
	}
	for _, c := range doc.PortClaims {
		port, owner := fmt.Sprintf("%d/%s", c.MuxPort, c.Protocol), c.Namespace+"/"+c.Service+"/"+c.PortName
		if other, dup := now[port]; dup {
			o.fault("state (resourceVersion %s): %s claimed by both %s and %s", cm.ResourceVersion, port, other, owner)
		}
		now[port] = owner
		if first, seen := o.owners[port]; seen && first != owner {
			o.fault("state (resourceVersion %s): owner of %s flipped from %s to %s", cm.ResourceVersion, port, first, owner)
		} else if !seen {
			o.owners[port] = owner
		}
		if first, seen := o.claimed[owner]; seen && first != port {
			o.fault("state (resourceVersion %s): claim of %s moved from %s to %s", cm.ResourceVersion, owner, first, port)
		} else if !seen {
			o.claimed[owner] = port
		}
	}
}

// faultsSeen is every fault recorded so far.
func (o *observer) faultsSeen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.faults...)
}

// counts are the observer's totals for the report.
func (o *observer) counts() (publishedPorts, muxVersions, placeholderVersions int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.ports), o.muxVersions, o.placeholder
}

// outcome is the observed end state in the observer's own view.
func (o *observer) outcome() outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	var channels []*corev1.Service
	for _, s := range o.current {
		channels = append(channels, s)
	}
	return outcomeOf(o.w, o.muxNow, channels, o.stateNow)
}

// assertClean fails the test with every fault the observer recorded.
func (o *observer) assertClean(t testing.TB) {
	t.Helper()
	faults := o.faultsSeen()
	if len(faults) == 0 {
		return
	}
	sort.Strings(faults)
	if len(faults) > 30 {
		faults = append(faults[:30], fmt.Sprintf("… and %d more", len(faults)-30))
	}
	t.Errorf("the observer saw %d fault(s):\n%s", len(o.faultsSeen()), strings.Join(faults, "\n"))
}

// outcome is a run's end state with the namespace taken out, so that two runs in
// two namespaces compare equal when they gave every channel the same ports: the
// mux ports by owner, each channel's ports annotation and Accepted reason, the
// state's claims.
type outcome struct {
	MuxPorts    []string          // "svc/portName port/proto", by port
	Channels    map[string]string // channel -> "<ports annotation> <Accepted status/reason>"
	Claims      []string          // "svc/portName port/proto source"
	Unknown     []string          // mux ports whose name is no channel port's
	Generations map[string]bool   // channel -> its condition observed its generation
}

func outcomeOf(w *world.World, mux *corev1.Service, channels []*corev1.Service, state *corev1.ConfigMap) outcome {
	out := outcome{Channels: map[string]string{}, Generations: map[string]bool{}}
	byName := map[string]string{}
	for _, s := range channels {
		for _, p := range s.Spec.Ports {
			byName[world.PortName(w.Namespace, s.Name, p.Name)] = s.Name + "/" + p.Name
		}
		cond := "no condition"
		if c := w.Accepted(s); c != nil {
			cond = string(c.Status) + "/" + c.Reason
			out.Generations[s.Name] = c.ObservedGeneration == s.Generation
		}
		out.Channels[s.Name] = s.Annotations[w.Key("ports")] + " " + cond
	}
	if mux != nil {
		for _, p := range mux.Spec.Ports {
			owner, ok := byName[p.Name]
			if !ok {
				out.Unknown = append(out.Unknown, world.Port{Name: p.Name, Port: p.Port, Protocol: p.Protocol}.String())
				continue
			}
			out.MuxPorts = append(out.MuxPorts, fmt.Sprintf("%s %d/%s", owner, p.Port, p.Protocol))
		}
	}
	if doc, err := world.DecodeState(state); err == nil {
		for _, c := range doc.PortClaims {
			out.Claims = append(out.Claims, fmt.Sprintf("%s/%s %d/%s %s", c.Service, c.PortName, c.MuxPort, c.Protocol, c.Source))
		}
	}
	return out
}

// liveOutcome lists the mux, its channels and its state afresh from the API server.
func liveOutcome(w *world.World, mux string) (outcome, error) {
	list, err := w.Client.CoreV1().Services(w.Namespace).List(w.Context(), metav1.ListOptions{})
	if err != nil {
		return outcome{}, err
	}
	var m *corev1.Service
	var channels []*corev1.Service
	for i := range list.Items {
		if list.Items[i].Name == mux {
			m = &list.Items[i]
		} else {
			channels = append(channels, &list.Items[i])
		}
	}
	state, err := w.StateE(mux)
	if err != nil {
		return outcome{}, err
	}
	return outcomeOf(w, m, channels, state), nil
}

// diff describes how got differs from want, at most a few lines per part.
func (got outcome) diff(want outcome) string {
	var b strings.Builder
	list := func(what string, g, w []string) {
		gs, ws := map[string]bool{}, map[string]bool{}
		for _, x := range g {
			gs[x] = true
		}
		for _, x := range w {
			ws[x] = true
		}
		n := 0
		for _, x := range w {
			if !gs[x] && n < 5 {
				fmt.Fprintf(&b, "%s missing: %s\n", what, x)
				n++
			}
		}
		for _, x := range g {
			if !ws[x] && n < 10 {
				fmt.Fprintf(&b, "%s unexpected: %s\n", what, x)
				n++
			}
		}
		if len(g) != len(w) {
			fmt.Fprintf(&b, "%s: %d, want %d\n", what, len(g), len(w))
		}
	}
	list("mux port", got.MuxPorts, want.MuxPorts)
	list("claim", got.Claims, want.Claims)
	list("unknown mux port", got.Unknown, want.Unknown)
	var gc, wc []string
	for k, v := range got.Channels {
		gc = append(gc, k+" "+v)
	}
	for k, v := range want.Channels {
		wc = append(wc, k+" "+v)
	}
	list("channel", gc, wc)
	for name, ok := range got.Generations {
		if !ok {
			fmt.Fprintf(&b, "channel %s: condition not at its generation\n", name)
			break
		}
	}
	return b.String()
}

// summary is the observer's totals and verdict, for the report.
func (o *observer) summary() string {
	ports, versions, placeholder := o.counts()
	return fmt.Sprintf("%d mux versions seen (%d with the placeholder), %d ports published, %d moved/flipped/doubly owned",
		versions, placeholder, ports, len(o.faultsSeen()))
}
