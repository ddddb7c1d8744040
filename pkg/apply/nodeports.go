package apply

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Fallback is what a mux write sends instead when the API server refuses the
// remembered NodePorts it asks for (SPEC §10): another Service can take one between
// the snapshot and the write ("provided port is already allocated", 422 Invalid).
// The same patch without any nodePort is sent once, and Event says so.
type Fallback struct {
	Patch []byte
	Event plan.Event
}

// portsPatch is the merge-patch list of mux ports: name, port, protocol, and the
// nodePort a restored port carries when withNodePorts.
func portsPatch(ports []corev1.ServicePort, withNodePorts bool) []map[string]any {
	out := make([]map[string]any, len(ports))
	for i, sp := range ports {
		out[i] = map[string]any{"name": sp.Name, "port": sp.Port, "protocol": sp.Protocol}
		if withNodePorts && sp.NodePort != 0 {
			out[i]["nodePort"] = sp.NodePort
		}
	}
	return out
}

// nodePortFallback is the Fallback of a mux patch body whose ports ask for
// NodePorts, nil when none does.
func nodePortFallback(p plan.Plan, body map[string]any) *Fallback {
	var asked []string
	for _, sp := range p.Ports {
		if sp.NodePort != 0 {
			asked = append(asked, fmt.Sprintf("%s=%d", sp.Name, sp.NodePort))
		}
	}
	if len(asked) == 0 {
		return nil
	}
	without := map[string]any{}
	for k, v := range body {
		without[k] = v
	}
	without["spec"] = map[string]any{"ports": portsPatch(p.Ports, false)}
	return &Fallback{Patch: mustJSON(without), Event: plan.Event{Object: p.Mux, Type: api.EventWarning, Reason: api.ReasonNodePortReassigned,
		Message: fmt.Sprintf("mux %s: the API server refused the remembered NodePorts (%s); it assigns new ones, and a load balancer that routes to NodePorts reprograms for these ports",
			p.Mux, strings.Join(asked, ", "))}}
}

// doOrFallback performs w and, when the API server refuses w's NodePorts as
// invalid, w.Fallback once; the second return is the Event to post then.
func (e *Executor) doOrFallback(ctx context.Context, w Write) (string, *plan.Event, error) {
	rv, err := e.do(ctx, w)
	if w.Fallback == nil || !apierrors.IsInvalid(err) {
		return rv, nil, err
	}
	retry := w
	retry.Patch, retry.Fallback = w.Fallback.Patch, nil
	rv, err = e.do(ctx, retry)
	if err != nil {
		return "", nil, err
	}
	return rv, &w.Fallback.Event, nil
}
