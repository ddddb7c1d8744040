package world

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// EventComponent is the source component of the Events svcmux posts.
const EventComponent = "svcmux"

// WaitServiceForE polls Service name until cond holds and returns it; cond
// also describes what it saw, for the timeout error.
func (w *World) WaitServiceForE(name string, cond func(*corev1.Service) (bool, string)) (*corev1.Service, error) {
	var got *corev1.Service
	err := w.Poll(0, func() (bool, string, error) {
		s, err := w.ServiceE(name)
		if err != nil {
			return false, "", err
		}
		got = s
		ok, state := cond(s)
		return ok, state, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for service %s: %w", w.Ref(name), err)
	}
	return got, nil
}

// WaitServiceFor is WaitServiceForE, failing the test on error.
func (w *World) WaitServiceFor(name string, cond func(*corev1.Service) (bool, string)) *corev1.Service {
	svc, err := w.WaitServiceForE(name, cond)
	w.must(err)
	return svc
}

// WaitMuxPortsAssignedE is WaitMuxPortsE plus: every port has a NodePort from
// the control plane's range (controlplane.ServiceNodePortRange).
func (w *World) WaitMuxPortsAssignedE(mux string, want ...Port) (*corev1.Service, error) {
	svc, err := w.WaitMuxPortsE(mux, want...)
	if err != nil {
		return nil, err
	}
	var lo, hi int32
	if _, err := fmt.Sscanf(controlplane.ServiceNodePortRange, "%d-%d", &lo, &hi); err != nil {
		return svc, fmt.Errorf("parse the NodePort range %q: %w", controlplane.ServiceNodePortRange, err)
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort < lo || p.NodePort > hi {
			return svc, fmt.Errorf("mux %s port %s: NodePort %d not assigned from %s",
				w.Ref(mux), p.Name, p.NodePort, controlplane.ServiceNodePortRange)
		}
	}
	return svc, nil
}

// WaitMuxPortsAssigned is WaitMuxPortsAssignedE, failing the test on error.
func (w *World) WaitMuxPortsAssigned(mux string, want ...Port) *corev1.Service {
	svc, err := w.WaitMuxPortsAssignedE(mux, want...)
	w.must(err)
	return svc
}

// PortIDs lists "name port/protocol" of a Service's ports, in spec order.
func PortIDs(svc *corev1.Service) []string {
	out := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out = append(out, fmt.Sprintf("%s %d/%s", p.Name, p.Port, p.Protocol))
	}
	return out
}

// ConditionString renders a condition for failure messages.
func ConditionString(c *metav1.Condition) string {
	if c == nil {
		return "<no Accepted condition>"
	}
	return fmt.Sprintf("%s reason=%s gen=%d ltt=%s msg=%q", c.Status, c.Reason, c.ObservedGeneration,
		c.LastTransitionTime.UTC().Format(time.RFC3339), c.Message)
}

// DescribeAll is Describe plus the Service's ports and finalizers.
func (w *World) DescribeAll(svc *corev1.Service) string {
	return fmt.Sprintf("%s ports=%v finalizers=%v", w.Describe(svc), PortIDs(svc), svc.Finalizers)
}

// NoPortsAnnotationE is an error when a channel carries the agent's ports
// annotation (one that was never accepted must not).
func (w *World) NoPortsAnnotationE(svc *corev1.Service) error {
	if v, has := svc.Annotations[w.Key("ports")]; has {
		return fmt.Errorf("channel %s: ports annotation %q, want none (never accepted)", w.Ref(svc.Name), v)
	}
	return nil
}

// NoPortsAnnotation is NoPortsAnnotationE, failing the test on error.
func (w *World) NoPortsAnnotation(svc *corev1.Service) { w.must(w.NoPortsAnnotationE(svc)) }

// NoEventE is an error when an Event with reason exists about name.
func (w *World) NoEventE(name, reason string) error {
	evs, err := w.EventsE(name)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Reason == reason {
			return fmt.Errorf("unexpected %s event on %s: %s", reason, w.Ref(name), e.Message)
		}
	}
	return nil
}

// NoEvent is NoEventE, failing the test on error.
func (w *World) NoEvent(name, reason string) { w.must(w.NoEventE(name, reason)) }

// SvcmuxEventsE lists the Events svcmux posted in the World's namespace.
func (w *World) SvcmuxEventsE() ([]corev1.Event, error) {
	list, err := w.Client.CoreV1().Events(w.Namespace).List(w.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", w.Namespace, err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.Source.Component == EventComponent || ev.ReportingController == EventComponent {
			out = append(out, ev)
		}
	}
	return out, nil
}

// SvcmuxEvents is SvcmuxEventsE, failing the test on error.
func (w *World) SvcmuxEvents() []corev1.Event {
	evs, err := w.SvcmuxEventsE()
	w.must(err)
	return evs
}

// DeleteServiceE deletes a Service of the World's namespace.
func (w *World) DeleteServiceE(name string) error {
	if err := w.Client.CoreV1().Services(w.Namespace).Delete(w.ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete service %s: %w", w.Ref(name), err)
	}
	return nil
}

// DeleteService is DeleteServiceE, failing the test on error.
func (w *World) DeleteService(name string) { w.must(w.DeleteServiceE(name)) }

// DropFinalizersAtEnd removes the finalizers of the named Services when the
// test ends, before its namespace is deleted (cleanups run last-in first-out),
// so a test that leaves the Python controller's finalizer in place on purpose
// never leaves a namespace stuck Terminating for the tests after it.
func (w *World) DropFinalizersAtEnd(names ...string) {
	t := w.tb()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, name := range names {
			_, err := w.Client.CoreV1().Services(w.Namespace).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Logf("dropping finalizers of %s: %v", w.Ref(name), err)
			}
		}
	})
}
