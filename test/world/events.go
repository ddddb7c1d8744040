package world

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventsE lists the Events about the object called name (any kind) in the
// World's namespace.
func (w *World) EventsE(name string) ([]corev1.Event, error) {
	list, err := w.Client.CoreV1().Events(w.Namespace).List(w.ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", w.Ref(name), err)
	}
	return list.Items, nil
}

// Events is EventsE, failing the test on error.
func (w *World) Events(name string) []corev1.Event {
	evs, err := w.EventsE(name)
	w.must(err)
	return evs
}

// EventsText renders Events for failure messages, one per line.
func EventsText(evs []corev1.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s %s/%s x%d %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Count, e.Reason, e.Message)
	}
	return b.String()
}

// WaitEventE waits for an Event about the Service name with type typ
// (corev1.EventTypeNormal or Warning), reason and a message containing msg.
func (w *World) WaitEventE(name, typ, reason, msg string) (corev1.Event, error) {
	var found corev1.Event
	err := w.Poll(0, func() (bool, string, error) {
		evs, err := w.EventsE(name)
		if err != nil {
			return false, "", err
		}
		for _, e := range evs {
			if e.Type == typ && e.Reason == reason && strings.Contains(e.Message, msg) && e.InvolvedObject.Kind == "Service" {
				found = e
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("no %s %s event containing %q; events:%s", typ, reason, msg, EventsText(evs)), nil
	})
	if err != nil {
		return found, fmt.Errorf("wait for event on %s: %w", w.Ref(name), err)
	}
	return found, nil
}

// WaitEvent is WaitEventE, failing the test on error.
func (w *World) WaitEvent(name, typ, reason, msg string) corev1.Event {
	e, err := w.WaitEventE(name, typ, reason, msg)
	w.must(err)
	return e
}
