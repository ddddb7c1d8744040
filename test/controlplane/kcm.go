package controlplane

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Controllers run by kube-controller-manager, by canonical name (v1.37
// spells them "<x>-controller"; the old short names are aliases):
//   - endpoints and endpointslice: fill Endpoints/EndpointSlices of Services
//     with selectors from Pod status, i.e. the channel endpoints svcmux reads;
//   - endpointslice-mirroring: mirrors selector-less Endpoints into slices,
//     as in a real cluster;
//   - garbage-collector: deletes objects whose ownerReferences are gone;
//   - namespace: actually deletes the per-test namespaces and their contents
//     (without it they stay Terminating forever, as in bare envtest).
//
// Deliberately absent: the service-account controllers (envtest disables the
// ServiceAccount admission plugin, pods need no token), node lifecycle (no
// kubelets; it would taint the fake Nodes and evict the Pods) and pod GC.
var controllers = []string{
	"endpoints-controller",
	"endpointslice-controller",
	"endpointslice-mirroring-controller",
	"garbage-collector-controller",
	"namespace-controller",
}

func (cp *ControlPlane) startControllerManager() error {
	logPath := filepath.Join(cp.LogDir(), "kube-controller-manager.log")
	p, err := startProcess("kube-controller-manager", cp.Binary("kube-controller-manager"), logPath,
		"--kubeconfig="+cp.kubeconfig,
		"--controllers="+strings.Join(controllers, ","),
		// Use the admin credentials for every controller: with per-controller
		// service accounts it would need the token controller and a signing key.
		"--use-service-account-credentials=false",
		"--leader-elect=false", // single instance, and no Lease churn in etcd
		// No HTTPS endpoint: nothing to authenticate, no port to pick or leak.
		// Readiness is checked functionally below instead of via /healthz.
		"--secure-port=0",
		// Its client's default 20 requests a second would take minutes to give
		// thousands of Services their Endpoints and EndpointSlices, and a bench
		// would time the agent against a controller manager still catching up.
		"--kube-api-qps=1000", "--kube-api-burst=2000",
	)
	if err != nil {
		return err
	}
	cp.kcm = p
	if err := cp.waitForEndpointSlices(); err != nil {
		return fmt.Errorf("kube-controller-manager not working: %w\n%s", err, tail(logPath, 40))
	}
	return nil
}

// waitForEndpointSlices proves the endpointslice controller is running and
// its informers are synced, so the first test does not spend its own timeout
// on controller-manager startup: a Service with a selector must get a slice.
func (cp *ControlPlane) waitForEndpointSlices() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns, name = metav1.NamespaceDefault, "svcmux-controlplane-probe"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"svcmux-controlplane-probe": "none"},
			Ports:    []corev1.ServicePort{{Port: 80}},
		},
	}
	if _, err := cp.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	var last string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if done, exitErr := cp.kcm.exited(); done {
			return false, fmt.Errorf("exited: %v", exitErr)
		}
		slices, err := cp.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + name,
		})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("%d EndpointSlices for the probe Service", len(slices.Items))
		return len(slices.Items) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last: %s)", err, last)
	}
	err = cp.client.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		err = nil
	}
	return err
}
