package world

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
)

// TCP is a channel port (target port defaulted by the API server to port).
func TCP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

// UDP is a UDP channel port.
func UDP(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolUDP}
}

// To sets a port's numeric target port (the backend's port).
func To(p corev1.ServicePort, target int32) corev1.ServicePort {
	p.TargetPort = intstr.FromInt32(target)
	return p
}

// MuxObject is a mux Service as a user writes it (not created): the
// multiplexer annotation plus ann, type LoadBalancer, no selector and the
// placeholder port 101/TCP. mutate may change it further.
func (w *World) MuxObject(name string, ann map[string]string, mutate ...func(*corev1.Service)) *corev1.Service {
	annotations := map[string]string{w.Key("multiplexer"): "true"}
	for k, v := range ann {
		annotations[k] = v
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Annotations: annotations},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

// CreateMuxE creates MuxObject(name, ann, mutate...).
func (w *World) CreateMuxE(name string, ann map[string]string, mutate ...func(*corev1.Service)) (*corev1.Service, error) {
	return w.CreateServiceE(w.MuxObject(name, ann, mutate...))
}

// CreateMux is CreateMuxE, failing the test on error.
func (w *World) CreateMux(name string, ann map[string]string, mutate ...func(*corev1.Service)) *corev1.Service {
	svc, err := w.CreateMuxE(name, ann, mutate...)
	w.must(err)
	return svc
}

// ChannelObject is a channel of the mux named mux in the World's namespace
// (not created): type LoadBalancer, the mux's class, selector app=<name>,
// annotations ann (see ExternalPorts), ports. Change the class with
// ClassIn for a mux elsewhere.
func (w *World) ChannelObject(name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	class := w.Class(mux)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			Selector: map[string]string{"app": name}, Ports: ports},
	}
}

// CreateChannelE creates ChannelObject(name, mux, ann, ports...).
func (w *World) CreateChannelE(name, mux string, ann map[string]string, ports ...corev1.ServicePort) (*corev1.Service, error) {
	return w.CreateServiceE(w.ChannelObject(name, mux, ann, ports...))
}

// CreateChannel is CreateChannelE, failing the test on error.
func (w *World) CreateChannel(name, mux string, ann map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	svc, err := w.CreateChannelE(name, mux, ann, ports...)
	w.must(err)
	return svc
}

// ExternalPorts is the channel annotation map {<prefix>/external-ports:
// "item,item"}, e.g. ExternalPorts("http:auto", "admin:30080").
func (w *World) ExternalPorts(items ...string) map[string]string {
	return map[string]string{w.Key("external-ports"): strings.Join(items, ",")}
}

// CreateServiceE creates svc in its namespace (the World's when empty).
func (w *World) CreateServiceE(svc *corev1.Service) (*corev1.Service, error) {
	ns := svc.Namespace
	if ns == "" {
		ns = w.Namespace
	}
	out, err := w.Client.CoreV1().Services(ns).Create(w.ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create service %s/%s: %w", ns, svc.Name, err)
	}
	return out, nil
}

// CreateService is CreateServiceE, failing the test on error.
func (w *World) CreateService(svc *corev1.Service) *corev1.Service {
	out, err := w.CreateServiceE(svc)
	w.must(err)
	return out
}

// createWorkers bounds CreateServicesE: enough to be quick, few enough not
// to starve the API server on two cores.
const createWorkers = 16

// CreateServicesE creates many Services concurrently and returns every
// error (joined), not only the first.
func (w *World) CreateServicesE(list []*corev1.Service) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, createWorkers)
	)
	for _, s := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := w.CreateServiceE(s); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d creates failed, first: %w", len(errs), len(list), errs[0])
	}
	return nil
}

// CreateServices is CreateServicesE, failing the test on error.
func (w *World) CreateServices(list []*corev1.Service) { w.must(w.CreateServicesE(list)) }

// ServiceE reads a Service of the World's namespace.
func (w *World) ServiceE(name string) (*corev1.Service, error) {
	svc, err := w.Client.CoreV1().Services(w.Namespace).Get(w.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get service %s: %w", w.Ref(name), err)
	}
	return svc, nil
}

// Service is ServiceE, failing the test on error.
func (w *World) Service(name string) *corev1.Service {
	svc, err := w.ServiceE(name)
	w.must(err)
	return svc
}

// UpdateServiceE applies mutate to the live Service and writes it back
// (retrying conflicts), as manager (the admin client's default when "").
func (w *World) UpdateServiceE(name, manager string, mutate func(*corev1.Service)) (*corev1.Service, error) {
	services := w.Client.CoreV1().Services(w.Namespace)
	var out *corev1.Service
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := services.Get(w.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cur)
		out, err = services.Update(w.ctx, cur, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update service %s as %q: %w", w.Ref(name), manager, err)
	}
	return out, nil
}

// UpdateService is UpdateServiceE, failing the test on error.
func (w *World) UpdateService(name, manager string, mutate func(*corev1.Service)) *corev1.Service {
	out, err := w.UpdateServiceE(name, manager, mutate)
	w.must(err)
	return out
}

// PatchServiceE patches a Service of the World's namespace as manager
// (types.MergePatchType, types.StrategicMergePatchType or types.JSONPatchType;
// for server-side apply use ApplyE).
func (w *World) PatchServiceE(name, manager string, pt types.PatchType, patch string) (*corev1.Service, error) {
	out, err := w.Client.CoreV1().Services(w.Namespace).Patch(w.ctx, name, pt, []byte(patch),
		metav1.PatchOptions{FieldManager: manager})
	if err != nil {
		return nil, fmt.Errorf("patch service %s as %q with %s: %w", w.Ref(name), manager, patch, err)
	}
	return out, nil
}

// PatchService is PatchServiceE, failing the test on error.
func (w *World) PatchService(name, manager string, pt types.PatchType, patch string) *corev1.Service {
	out, err := w.PatchServiceE(name, manager, pt, patch)
	w.must(err)
	return out
}

// SetAnnotationE sets one annotation of a Service (removes it when value is
// nil) with a merge patch as manager.
func (w *World) SetAnnotationE(name, manager, key string, value *string) (*corev1.Service, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{key: value}}})
	if err != nil {
		return nil, err
	}
	return w.PatchServiceE(name, manager, types.MergePatchType, string(patch))
}

// SetAnnotation is SetAnnotationE, failing the test on error.
func (w *World) SetAnnotation(name, manager, key string, value *string) *corev1.Service {
	out, err := w.SetAnnotationE(name, manager, key, value)
	w.must(err)
	return out
}

// Ptr returns a pointer to v (for SetAnnotation values and optional fields).
func Ptr[T any](v T) *T { return &v }
