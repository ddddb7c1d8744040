package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// waitConverged polls until the agent has written everything the sample
// implies (SPEC §4-§6), or fails after timeout naming what is still missing.
func (d *demo) waitConverged(ctx context.Context, timeout time.Duration) error {
	return waitUntil(ctx, timeout, d.missing)
}

// addRejected creates the rejected newcomer once the sample has converged (so
// its owner is already accepted) and waits until the agent has refused it while
// everything the sample implies still holds.
func (d *demo) addRejected(ctx context.Context, timeout time.Duration) error {
	c := d.cp.Client()
	if _, err := c.CoreV1().Services(channelNamespace).Create(ctx, rejected.service(), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating channel %s: %w", rejected.name, err)
	}
	return waitUntil(ctx, timeout, func(ctx context.Context) []string {
		out := d.missing(ctx)
		svc, err := c.CoreV1().Services(channelNamespace).Get(ctx, rejected.name, metav1.GetOptions{})
		if err != nil {
			return append(out, fmt.Sprintf("channel %s: %v", rejected.name, err))
		}
		if cond := accepted(svc); cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != api.ReasonMuxPortConflict {
			out = append(out, fmt.Sprintf("channel %s: condition %s is %s, want False %s", rejected.name,
				keys.AcceptedCondition, describeCondition(cond), api.ReasonMuxPortConflict))
		}
		return out
	})
}

// waitUntil polls missing until it reports nothing, or fails after timeout
// naming what is still missing.
func waitUntil(ctx context.Context, timeout time.Duration, missing func(context.Context) []string) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := missing(ctx)
		switch {
		case len(missing) == 0:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("%w within %v; still missing:\n  - %s", errNotConverged, timeout, strings.Join(missing, "\n  - "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// missing lists what the agent has not written yet.
func (d *demo) missing(ctx context.Context) []string {
	c := d.cp.Client()
	var out []string
	pods := 0
	for _, ch := range channels {
		pods += len(ch.podIPs)
		svc, err := c.CoreV1().Services(channelNamespace).Get(ctx, ch.name, metav1.GetOptions{})
		if err != nil {
			out = append(out, fmt.Sprintf("channel %s: %v", ch.name, err))
			continue
		}
		if got := svc.Annotations[keys.Ports]; got != ch.wantPorts() {
			out = append(out, fmt.Sprintf("channel %s: %s is %q, want %q", ch.name, keys.Ports, got, ch.wantPorts()))
		}
		if cond := accepted(svc); cond == nil || cond.Status != metav1.ConditionTrue {
			out = append(out, fmt.Sprintf("channel %s: condition %s not True (%s)", ch.name, keys.AcceptedCondition, describeCondition(cond)))
		}
		if ip := ingressOf(svc); ip != ingressIP {
			out = append(out, fmt.Sprintf("channel %s: status.loadBalancer is %q, want %s", ch.name, ip, ingressIP))
		}
	}

	mux, err := c.CoreV1().Services(muxNamespace).Get(ctx, muxName, metav1.GetOptions{})
	if err != nil {
		return append(out, fmt.Sprintf("mux: %v", err))
	}
	var wantPorts, gotPorts []int32
	for _, ch := range channels {
		wantPorts = append(wantPorts, ch.wantMuxPort)
	}
	for _, p := range mux.Spec.Ports {
		gotPorts = append(gotPorts, p.Port)
		if p.NodePort == 0 {
			out = append(out, fmt.Sprintf("mux: port %d has no nodePort yet", p.Port))
		}
	}
	slices.Sort(wantPorts)
	if !slices.Equal(gotPorts, wantPorts) {
		out = append(out, fmt.Sprintf("mux: spec.ports are %v, want %v", gotPorts, wantPorts))
	}
	if topo := mux.Annotations[keys.Topology]; !strings.Contains(topo, "Mux DNS: "+ingressIP) {
		out = append(out, fmt.Sprintf("mux: %s does not show the mux address yet", keys.Topology))
	}
	if sum := mux.Annotations[keys.Summary]; !strings.Contains(sum, fmt.Sprintf("| %d pod(s) |", pods)) {
		out = append(out, fmt.Sprintf("mux: %s is %q, want %d ready pods", keys.Summary, sum, pods))
	}

	cm, err := c.CoreV1().ConfigMaps(muxNamespace).Get(ctx, state.ConfigMapName(muxName, ""), metav1.GetOptions{})
	if err != nil {
		out = append(out, fmt.Sprintf("state ConfigMap: %v", err))
	} else {
		var doc struct {
			PortClaims []json.RawMessage `json:"portClaims"`
		}
		if err := json.Unmarshal([]byte(cm.Data[api.StateKey]), &doc); err != nil || len(doc.PortClaims) != len(channels) {
			out = append(out, fmt.Sprintf("state ConfigMap: %d port claims, want %d (%v)", len(doc.PortClaims), len(channels), err))
		}
	}

	ready := map[string]bool{}
	for _, sl := range d.muxSlices(ctx) {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				for _, a := range ep.Addresses {
					ready[a] = true
				}
			}
		}
	}
	for _, ch := range channels {
		for _, ip := range ch.podIPs {
			if !ready[ip] {
				out = append(out, fmt.Sprintf("mux EndpointSlices: no ready endpoint %s (channel %s)", ip, ch.name))
			}
		}
	}
	return out
}

// muxSlices are the mux's EndpointSlices written by svcmux.
func (d *demo) muxSlices(ctx context.Context) []discoveryv1.EndpointSlice {
	list, err := d.cp.Client().DiscoveryV1().EndpointSlices(muxNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: api.LabelServiceName + "=" + muxName + "," + api.LabelSliceManagedBy + "=" + api.EndpointSliceManagedBy,
	})
	if err != nil {
		return nil
	}
	return list.Items
}

func accepted(svc *corev1.Service) *metav1.Condition {
	for i, c := range svc.Status.Conditions {
		if c.Type == keys.AcceptedCondition {
			return &svc.Status.Conditions[i]
		}
	}
	return nil
}

func describeCondition(c *metav1.Condition) string {
	if c == nil {
		return "absent"
	}
	s := string(c.Status) + " " + c.Reason
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func ingressOf(svc *corev1.Service) string {
	var addrs []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else {
			addrs = append(addrs, in.Hostname)
		}
	}
	return strings.Join(addrs, ",")
}
