package apply

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Fallback is how a mux write that asks for remembered NodePorts (SPEC §10) is
// sent again when the API server refuses one with 422 Invalid: another Service
// took it between the snapshot and the write ("provided port is already
// allocated"), or it is outside the API server's NodePort range. It is retried
// once: without the NodePorts the error names (its causes' field
// spec.ports[i].nodePort), the others kept; without any when it names none.
type Fallback struct {
	mux   plan.ObjectRef
	body  map[string]any // the patch body; its spec.ports is rebuilt from ports
	ports []corev1.ServicePort
}

// portsPatch is the merge-patch list of mux ports: name, port, protocol, and the
// nodePort a restored port carries unless drop says to leave it to the API server.
func portsPatch(ports []corev1.ServicePort, drop func(i int) bool) []map[string]any {
	out := make([]map[string]any, len(ports))
	for i, sp := range ports {
		out[i] = map[string]any{"name": sp.Name, "port": sp.Port, "protocol": sp.Protocol}
		if sp.NodePort != 0 && !drop(i) {
			out[i]["nodePort"] = sp.NodePort
		}
	}
	return out
}

func keepAll(int) bool { return false }

// nodePortFallback is the Fallback of a mux patch body whose ports ask for
// NodePorts, nil when none does.
func nodePortFallback(p plan.Plan, body map[string]any) *Fallback {
	for _, sp := range p.Ports {
		if sp.NodePort != 0 {
			return &Fallback{mux: p.Mux, body: body, ports: p.Ports}
		}
	}
	return nil
}

// nodePortField is the field path of a refused NodePort in an Invalid error.
var nodePortField = regexp.MustCompile(`^spec\.ports\[(\d+)\]\.nodePort$`)

// retry is the patch to send after err, and the Event that tells which remembered
// NodePorts were given up.
func (f *Fallback) retry(err error) ([]byte, plan.Event) {
	refused := map[int]bool{}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			if m := nodePortField.FindStringSubmatch(c.Field); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(f.ports) && f.ports[i].NodePort != 0 {
					refused[i] = true
				}
			}
		}
	}
	drop := func(i int) bool { return refused[i] }
	if len(refused) == 0 {
		drop = func(int) bool { return true } // the error does not say which: give up all
	}
	var given []string
	for i, sp := range f.ports {
		if sp.NodePort != 0 && drop(i) {
			given = append(given, fmt.Sprintf("%s=%d", sp.Name, sp.NodePort))
		}
	}
	body := map[string]any{}
	for k, v := range f.body {
		body[k] = v
	}
	body["spec"] = map[string]any{"ports": portsPatch(f.ports, drop)}
	return mustJSON(body), plan.Event{Object: f.mux, Type: api.EventWarning, Reason: api.ReasonNodePortReassigned,
		Message: fmt.Sprintf("mux %s: the API server refused the remembered NodePort(s) %s (%s); it assigns new ones, and a load balancer that routes to NodePorts reprograms for these ports",
			f.mux, strings.Join(given, ", "), apiReason(err))}
}

// apiReason is the API server's message without the object prefix
// ("Service \"mux\" is invalid: "), which the Event's object already names.
func apiReason(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, " is invalid: "); ok {
		return rest
	}
	return msg
}

// doOrFallback performs w and, when the API server refuses w's NodePorts as
// invalid, sends it once more per w.Fallback; it returns the Event to post then,
// and the writes made (do's count; a refused request wrote nothing).
func (e *Executor) doOrFallback(ctx context.Context, w Write) (string, *plan.Event, int, error) {
	rv, requests, err := e.do(ctx, w)
	if w.Fallback == nil || !apierrors.IsInvalid(err) {
		return rv, nil, requests, err
	}
	retry := w
	var event plan.Event
	retry.Patch, event = w.Fallback.retry(err)
	retry.Fallback = nil
	// The refused request wrote nothing: only the retry's requests count.
	rv, requests, err = e.do(ctx, retry)
	if err != nil {
		return "", nil, requests, err
	}
	return rv, &event, requests, nil
}
