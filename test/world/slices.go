package world

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EndpointSlice managers (endpointslice.kubernetes.io/managed-by) the tests
// tell apart: svcmux's mux slices, the cluster's own slices of a channel, and
// the slices the mirroring controller makes of a selector-less Endpoints.
const (
	SliceManager          = "svcmux.nowake.ai"
	ClusterSliceManager   = "endpointslice-controller.k8s.io"
	MirroringSliceManager = "endpointslicemirroring-controller.k8s.io"
)

// Labels svcmux (and the Python controller before it) puts on the objects it
// makes, and the cluster's label that stops the mirroring controller.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelComponent  = "app.kubernetes.io/component"
	LabelName       = "app.kubernetes.io/name"
	LabelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"
)

// Endpoint is one endpoint of a set of EndpointSlices, flattened with the port
// its slice carries, so a whole set compares (and prints) at once.
type Endpoint struct {
	Slice                       string // set only by Endpoints(list, true)
	Addr, Pod, Node             string // Pod is "Kind/namespace/name" of the targetRef
	PortName                    string
	Port                        int32
	Ready, Serving, Terminating bool
}

// Endpoints flattens slices into one Endpoint per (endpoint, port), sorted by
// address then port name; withSlice keeps each one's slice name.
func Endpoints(list []discoveryv1.EndpointSlice, withSlice bool) []Endpoint {
	var out []Endpoint
	b := func(p *bool) bool { return p != nil && *p }
	for _, s := range list {
		for _, e := range s.Endpoints {
			for _, p := range s.Ports {
				ep := Endpoint{Addr: strings.Join(e.Addresses, ","), Ready: b(e.Conditions.Ready),
					Serving: b(e.Conditions.Serving), Terminating: b(e.Conditions.Terminating)}
				if withSlice {
					ep.Slice = s.Name
				}
				if e.TargetRef != nil {
					ep.Pod = e.TargetRef.Kind + "/" + e.TargetRef.Namespace + "/" + e.TargetRef.Name
				}
				if e.NodeName != nil {
					ep.Node = *e.NodeName
				}
				if p.Name != nil {
					ep.PortName = *p.Name
				}
				if p.Port != nil {
					ep.Port = *p.Port
				}
				out = append(out, ep)
			}
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := strings.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.PortName, b.PortName)
	})
	return out
}

// SlicesOfE lists the EndpointSlices of Service service (by the
// kubernetes.io/service-name label) whose managed-by label is manager (every
// manager when ""), sorted by name.
func (w *World) SlicesOfE(service, manager string) ([]discoveryv1.EndpointSlice, error) {
	list, err := w.Client.DiscoveryV1().EndpointSlices(w.Namespace).List(w.ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return nil, fmt.Errorf("list endpointslices of %s: %w", w.Ref(service), err)
	}
	var out []discoveryv1.EndpointSlice
	for _, s := range list.Items {
		if manager == "" || s.Labels[discoveryv1.LabelManagedBy] == manager {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// SlicesOf is SlicesOfE, failing the test on error.
func (w *World) SlicesOf(service, manager string) []discoveryv1.EndpointSlice {
	out, err := w.SlicesOfE(service, manager)
	w.must(err)
	return out
}

// MuxSlices are svcmux's EndpointSlices of mux.
func (w *World) MuxSlices(mux string) []discoveryv1.EndpointSlice {
	return w.SlicesOf(mux, SliceManager)
}

// SliceVersions maps every EndpointSlice of service to its resourceVersion.
func (w *World) SliceVersions(service string) map[string]string {
	out := map[string]string{}
	for _, s := range w.SlicesOf(service, "") {
		out[s.Name] = s.ResourceVersion
	}
	return out
}

// WaitMuxEndpointsE waits until svcmux's slices of mux carry exactly want
// (Endpoints without slice names; nil for none) and returns the slices.
func (w *World) WaitMuxEndpointsE(mux string, want []Endpoint) ([]discoveryv1.EndpointSlice, error) {
	var got []discoveryv1.EndpointSlice
	err := w.Poll(0, func() (bool, string, error) {
		s, err := w.SlicesOfE(mux, SliceManager)
		if err != nil {
			return false, "", err
		}
		got = s
		eps := Endpoints(s, false)
		return reflect.DeepEqual(eps, want), fmt.Sprintf("%d mux slices, endpoints %+v, want %+v", len(s), eps, want), nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for the endpoints of mux %s: %w", w.Ref(mux), err)
	}
	return got, nil
}

// WaitMuxEndpoints is WaitMuxEndpointsE, failing the test on error.
func (w *World) WaitMuxEndpoints(mux string, want []Endpoint) []discoveryv1.EndpointSlice {
	out, err := w.WaitMuxEndpointsE(mux, want)
	w.must(err)
	return out
}
