package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/test/agentrun"
	"github.com/nowakeai/svcmux/test/controlplane"
)

func TestAgentServesADefaultChannel(t *testing.T) {
	cp := controlplane.Get(t)
	ns := cp.Namespace(t)
	ctx := context.Background()
	c := cp.Client()
	muxSvc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "mux", Namespace: ns, Annotations: map[string]string{"svc-mux.nowake.ai/multiplexer": "true"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
	_, err := c.CoreV1().Services(ns).Create(ctx, muxSvc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	class := "svc-mux.nowake.ai/mux." + ns
	ch := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class, Selector: map[string]string{"app": "api"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(80)}}},
	}
	if _, err := c.CoreV1().Services(ns).Create(ctx, ch, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := agentrun.Start(t, cp.KubeconfigPath())
	controlplane.Eventually(t, 20*time.Second, func() (bool, string) {
		got, err := c.CoreV1().Services(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.Annotations["svc-mux.nowake.ai/ports"] == "http:8080->8080", fmt.Sprintf("%v %v", got.Annotations, got.Status.Conditions)
	})
	m, _ := c.CoreV1().Services(ns).Get(ctx, "mux", metav1.GetOptions{})
	t.Logf("mux ports %+v\nannotations %v", m.Spec.Ports, m.Annotations)
	time.Sleep(2 * time.Second)
	w1 := a.Writes(t)
	time.Sleep(3 * time.Second)
	if w2 := a.Writes(t); w2 != w1 {
		t.Fatalf("idle writes: %d -> %d", w1, w2)
	}
	t.Logf("writes %d\n%s", w1, a.LogTail(30))
}
