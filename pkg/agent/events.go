package agent

import (
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/nowakeai/svcmux/pkg/plan"
)

// eventKey is what makes two Events identical.
type eventKey struct {
	Type, Reason, Message, FieldPath string
}

// eventPoster posts a pass's Events without repeating itself. Passes are
// level-triggered and run on every change, so the planner states the same warning
// pass after pass; re-posting it would make an idle cluster write (and the
// correlator would turn each repeat into a PATCH of the event's count). For each
// object it remembers the Events of the last pass that covered the object and posts
// only the new ones. An object whose Events change (a fix, then the same mistake
// again) has its set replaced, so the mistake is reported again.
type eventPoster struct {
	recorder record.EventRecorder // nil: post nothing (dry-run)
	log      *slog.Logger
	metrics  *metrics

	mu sync.Mutex
	// last maps an object identity to the Events its last covering pass stood behind.
	last map[string]map[eventKey]struct{}
}

func newEventPoster(recorder record.EventRecorder, log *slog.Logger, m *metrics) *eventPoster {
	return &eventPoster{recorder: recorder, log: log, metrics: m, last: map[string]map[eventKey]struct{}{}}
}

// identity keys an object by UID, so a deleted and recreated object starts afresh;
// without a UID (not expected from the cache) by kind and name.
func identity(r plan.ObjectRef) string {
	if r.UID != "" {
		return string(r.UID)
	}
	return r.Kind + ":" + r.Namespace + "/" + r.Name
}

// post records events for a pass that covered the objects in covered (and those the
// events name). It returns how many events were new.
func (p *eventPoster) post(covered []plan.ObjectRef, events []plan.Event) int {
	next := map[string]map[eventKey]struct{}{}
	for _, r := range covered {
		next[identity(r)] = map[eventKey]struct{}{}
	}
	var fresh []plan.Event
	p.mu.Lock()
	for _, e := range events {
		id := identity(e.Object)
		k := eventKey{Type: e.Type, Reason: e.Reason, Message: e.Message, FieldPath: e.FieldPath}
		if next[id] == nil {
			next[id] = map[eventKey]struct{}{}
		}
		if _, dup := next[id][k]; dup {
			continue
		}
		next[id][k] = struct{}{}
		if _, seen := p.last[id][k]; !seen {
			fresh = append(fresh, e)
		}
	}
	for id, set := range next {
		if len(set) == 0 {
			delete(p.last, id)
		} else {
			p.last[id] = set
		}
	}
	p.mu.Unlock()

	p.emit(fresh)
	return len(fresh)
}

// emit posts events (logs them in dry-run) and counts them: the one place an
// Event leaves the agent, for a pass's Events and for its writes' alike.
func (p *eventPoster) emit(events []plan.Event) {
	for _, e := range events {
		if p.recorder == nil {
			p.log.Info("dry-run: would post event", "object", e.Object.String(), "kind", e.Object.Kind,
				"type", e.Type, "reason", e.Reason, "message", e.Message)
			continue
		}
		p.log.Debug("posting event", "object", e.Object.String(), "type", e.Type, "reason", e.Reason, "message", e.Message)
		p.recorder.Event(objectReference(e), e.Type, e.Reason, e.Message)
		if p.metrics != nil {
			p.metrics.events.WithLabelValues(e.Type, e.Reason).Inc()
		}
	}
}

// forget drops what was posted about a deleted object.
func (p *eventPoster) forget(uid types.UID) {
	if uid == "" {
		return
	}
	p.mu.Lock()
	delete(p.last, string(uid))
	p.mu.Unlock()
}

// objectReference is the involved object of an Event. The recorder accepts an
// ObjectReference as is, so no cache object is needed (or touched) to post.
func objectReference(e plan.Event) *corev1.ObjectReference {
	apiVersion := "v1"
	if e.Object.Kind == "EndpointSlice" {
		apiVersion = "discovery.k8s.io/v1"
	}
	return &corev1.ObjectReference{
		APIVersion: apiVersion,
		Kind:       e.Object.Kind,
		Namespace:  e.Object.Namespace,
		Name:       e.Object.Name,
		UID:        e.Object.UID,
		FieldPath:  e.FieldPath,
	}
}

// seed remembers the Events an earlier agent process already posted (still in the
// cluster, up to the API server's event TTL), so a restarted agent does not post a
// standing warning a second time: a restart on an idle cluster makes zero writes.
func (p *eventPoster) seed(events []corev1.Event) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range events {
		if e.Source.Component != EventComponent || e.InvolvedObject.UID == "" {
			continue
		}
		id := string(e.InvolvedObject.UID)
		if p.last[id] == nil {
			p.last[id] = map[eventKey]struct{}{}
		}
		p.last[id][eventKey{Type: e.Type, Reason: e.Reason, Message: e.Message, FieldPath: e.InvolvedObject.FieldPath}] = struct{}{}
		n++
	}
	return n
}
