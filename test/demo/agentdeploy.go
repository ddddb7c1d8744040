package main

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The demo's agent is a process on this machine, not the chart's Deployment, so
// `kubectl svcmux doctor` and `version`, which find the agent by its Deployment,
// would report it missing. The demo plays the cluster's controllers for it as it
// plays the kubelet for the sample pods: a Deployment labelled as the chart labels
// it, carrying the flags the process runs with, its status written ready (the
// demo's control plane runs no deployment controller to overwrite it). No pod
// runs for it; an annotation says what it stands for.

// agentDeploymentName is the chart's name for the Deployment (release svcmux).
const agentDeploymentName = "svcmux"

// createAgentDeployment registers the running agent as its Deployment in the mux
// namespace, ready.
func (d *demo) createAgentDeployment(ctx context.Context) error {
	labels := map[string]string{
		"app.kubernetes.io/name":      "svcmux",
		"app.kubernetes.io/instance":  "svcmux",
		"app.kubernetes.io/component": "agent",
		"app.kubernetes.io/part-of":   "svcmux",
	}
	meta := map[string]string{
		// test/agentrun builds the agent without the release's ldflags: it says "dev".
		"app.kubernetes.io/version": "dev",
	}
	for k, v := range labels {
		meta[k] = v
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: agentDeploymentName, Namespace: muxNamespace, Labels: meta,
			Annotations: map[string]string{"demo.svcmux.nowake.ai/stands-for": fmt.Sprintf(
				"the agent process the demo runs (log %s); no pod runs for this Deployment", d.path(agentLogFile))}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "agent",
					Image: "svcmux-agent:demo",
					// The flags agentrun starts the process with (test/agentrun).
					Args: []string{"--leader-elect=false", "--metrics-bind-address=" + d.agent.MetricsAddr,
						"--health-probe-bind-address=" + d.agent.HealthAddr, "--log-level=debug"},
				}}},
			},
		},
	}
	apps := d.cp.Client().AppsV1().Deployments(muxNamespace)
	dep, err := apps.Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the agent's Deployment: %w", err)
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1}
	if _, err := apps.UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("marking the agent's Deployment ready: %w", err)
	}
	return nil
}
