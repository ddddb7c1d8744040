package world

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Accepted is the channel's <prefix>/Accepted condition, nil when absent.
func (w *World) Accepted(svc *corev1.Service) *metav1.Condition {
	for i := range svc.Status.Conditions {
		if svc.Status.Conditions[i].Type == w.Key("Accepted") {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

// Describe is what the agent writes on a channel, for failure messages.
func (w *World) Describe(svc *corev1.Service) string {
	ann, has := svc.Annotations[w.Key("ports")]
	if !has {
		ann = "<absent>"
	}
	cond := "<none>"
	if c := w.Accepted(svc); c != nil {
		cond = fmt.Sprintf("%s/%s gen=%d(of %d) %q", c.Status, c.Reason, c.ObservedGeneration, svc.Generation, c.Message)
	}
	return fmt.Sprintf("%s: ports=%q condition=%s ingress=%v", svc.Name, ann, cond, svc.Status.LoadBalancer.Ingress)
}

// WaitServiceE polls Service name until ok holds and returns it; on timeout
// the error carries describe of the last version seen.
func (w *World) WaitServiceE(name string, ok func(*corev1.Service) bool, describe func(*corev1.Service) string) (*corev1.Service, error) {
	return w.WaitServiceForE(name, func(s *corev1.Service) (bool, string) { return ok(s), describe(s) })
}

// WaitMuxPortsE waits until the mux's spec.ports are exactly want, in order
// (the agent sorts them by port and protocol), and returns the mux.
func (w *World) WaitMuxPortsE(mux string, want ...Port) (*corev1.Service, error) {
	if want == nil {
		want = []Port{}
	}
	return w.WaitServiceE(mux, func(s *corev1.Service) bool {
		return reflect.DeepEqual(PortsOf(s), want)
	}, func(s *corev1.Service) string {
		return fmt.Sprintf("mux ports %v, want %v", PortsOf(s), want)
	})
}

// WaitMuxPorts is WaitMuxPortsE, failing the test on error.
func (w *World) WaitMuxPorts(mux string, want ...Port) *corev1.Service {
	svc, err := w.WaitMuxPortsE(mux, want...)
	w.must(err)
	return svc
}

// WaitChannelE waits until ok holds for the channel, describing it (Describe)
// on timeout.
func (w *World) WaitChannelE(name string, ok func(*corev1.Service) bool) (*corev1.Service, error) {
	return w.WaitServiceE(name, ok, w.Describe)
}

// WaitChannel is WaitChannelE, failing the test on error.
func (w *World) WaitChannel(name string, ok func(*corev1.Service) bool) *corev1.Service {
	svc, err := w.WaitChannelE(name, ok)
	w.must(err)
	return svc
}

// WaitAcceptedE waits until the channel carries exactly the ports annotation
// portsAnnotation (e.g. "http:8080->8080") and Accepted=True, reason Accepted,
// observed at its current generation (so an older acceptance never counts).
func (w *World) WaitAcceptedE(name, portsAnnotation string) (*corev1.Service, error) {
	return w.WaitChannelE(name, func(s *corev1.Service) bool {
		c := w.Accepted(s)
		v, has := s.Annotations[w.Key("ports")]
		return has && v == portsAnnotation && c != nil && c.Status == metav1.ConditionTrue &&
			c.Reason == "Accepted" && c.ObservedGeneration == s.Generation
	})
}

// WaitAccepted is WaitAcceptedE, failing the test on error.
func (w *World) WaitAccepted(name, portsAnnotation string) *corev1.Service {
	svc, err := w.WaitAcceptedE(name, portsAnnotation)
	w.must(err)
	return svc
}

// WaitRejectedE waits until the channel's Accepted condition is False with
// reason and a message containing msg, at its current generation. A kept
// channel (SPEC §3: a bad edit of a working channel) is False too, and keeps
// its ports annotation: check that separately.
func (w *World) WaitRejectedE(name, reason, msg string) (*corev1.Service, error) {
	return w.WaitChannelE(name, func(s *corev1.Service) bool {
		c := w.Accepted(s)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason &&
			strings.Contains(c.Message, msg) && c.ObservedGeneration == s.Generation
	})
}

// WaitRejected is WaitRejectedE, failing the test on error.
func (w *World) WaitRejected(name, reason, msg string) *corev1.Service {
	svc, err := w.WaitRejectedE(name, reason, msg)
	w.must(err)
	return svc
}
