package doctor

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/state"
)

// Builders so a table row reads like the situation it sets up. Muxes are planned
// with the real planner: doctor judges exactly what the agent decides.

var (
	testKeys = api.NewKeys("")
	testNow  = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
)

type svcOpt func(*corev1.Service)

func testMux(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: name,
			Annotations: map[string]string{testKeys.Multiplexer: "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// testChannel is app/<name> on mux svc-mux/<mux> with ports "name:port"; it sets
// allocateLoadBalancerNodePorts false, as a well-behaved channel does.
func testChannel(name, mux string, ports []string, opts ...svcOpt) *corev1.Service {
	class := testKeys.ClassPrefix() + mux
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: name, Annotations: map[string]string{}, Generation: 1},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": name}, AllocateLoadBalancerNodePorts: ptr(false)},
	}
	for _, p := range ports {
		n, port, _ := strings.Cut(p, ":")
		v, _ := strconv.Atoi(port)
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: n, Port: int32(v), Protocol: corev1.ProtocolTCP})
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func annotate(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func ptr[T any](v T) *T { return &v }

// stateCM is the state ConfigMap of svc-mux/<mux> holding raw.
func stateCM(mux, raw string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: state.ConfigMapName(mux, ""),
			Labels: map[string]string{api.LabelName: api.AppName, api.LabelComponent: api.ComponentMuxState}},
		Data: map[string]string{api.StateKey: raw},
	}
}

var testOpts = plan.Options{Keys: testKeys, DefaultMuxNamespace: "svc-mux", Now: metav1.NewTime(testNow)}

// planned is mux planned with channels and cm, as the agent would.
func planned(mux *corev1.Service, cm *corev1.ConfigMap, channels ...*corev1.Service) Mux {
	snap := plan.Snapshot{Mux: mux, Channels: channels, StateConfigMap: cm}
	return Mux{Snapshot: snap, Plan: plan.Compute(snap, testOpts)}
}

// settled is planned after the agent has written its plan: live mux ports,
// annotations and channel annotations equal the plan, and the state exists.
func settled(t *testing.T, mux *corev1.Service, channels ...*corev1.Service) Mux {
	t.Helper()
	first := planned(mux, nil, channels...)
	mux = mux.DeepCopy()
	mux.Spec.Ports = first.Plan.Ports
	for k, v := range first.Plan.Annotations {
		mux.Annotations[k] = v
	}
	live := make([]*corev1.Service, len(channels))
	for i, ch := range channels {
		live[i] = ch.DeepCopy()
		for _, oc := range first.Plan.Channels {
			if oc.Channel.Name == ch.Name && oc.PortsAnnotation != nil {
				live[i].Annotations[testKeys.Ports] = *oc.PortsAnnotation
			}
		}
	}
	raw := first.Plan.State.Document.Encode()
	m := planned(mux, stateCM(mux.Name, raw), live...)
	require.False(t, m.Plan.State.Write, "a settled mux has nothing to write to its state")
	return m
}

// healthyAgent is a ready agent Deployment in svc-mux at version, leader election on.
func healthyAgent(version string, args ...string) appsv1.Deployment {
	return appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux",
			Labels: map[string]string{"app.kubernetes.io/version": version}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2)), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "agent", Args: args}}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 2},
	}
}

// codes is "CODE object" per finding, the shape most assertions compare.
func codes(r Report) []string {
	out := []string{}
	for _, f := range r.Findings {
		out = append(out, f.Code+" "+f.Object)
	}
	return out
}

// only runs the one check named and fails on a finding of another check.
func only(t *testing.T, in Input, check string) Report {
	t.Helper()
	r := Run(in)
	var mine []Finding
	for _, f := range r.Findings {
		e, ok := Lookup(f.Code)
		require.True(t, ok, "code %s is in the catalog", f.Code)
		if e.Check == check {
			mine = append(mine, f)
		}
	}
	r.Findings = mine
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	var skipped []Skipped
	for _, s := range r.Skipped {
		if s.Check == check {
			skipped = append(skipped, s)
		}
	}
	r.Skipped = skipped
	return r
}

func baseInput(muxes ...Mux) Input {
	return Input{Keys: testKeys, Now: testNow, PluginVersion: "v0.1.0", DefaultMuxNamespace: "svc-mux",
		AgentSelector: "app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux", Muxes: muxes}
}

func portList(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d:%d", prefix, i, 10000+i)
	}
	return out
}
