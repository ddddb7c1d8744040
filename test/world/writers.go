package world

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
)

// Field managers other writers use, as the API server records them in
// managedFields: the GitOps and kubectl writers the agent shares objects with.
const (
	ManagerArgoCD         = "argocd-controller"
	ManagerKubectlClient  = "kubectl-client-side-apply"
	ManagerKubectlServer  = "kubectl"
	ManagerFluxKustomize  = "kustomize-controller"
	ManagerHelmController = "helm-controller"
	ManagerPythonKopf     = "kopf"
	ManagerPythonKr8s     = "kr8s"
)

// ClientAsE is an admin clientset whose writes the API server records under
// field manager manager for every operation that names none (Create, Update,
// Patch): the server takes the manager from the User-Agent, so code that knows
// nothing of field managers (a controller under test, a copied kubectl call)
// writes as argocd-controller or kubectl-client-side-apply.
func (w *World) ClientAsE(manager string) (kubernetes.Interface, error) {
	cfg := w.CP.Config()
	cfg.UserAgent = manager
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client as %q: %w", manager, err)
	}
	return c, nil
}

// ClientAs is ClientAsE, failing the test on error.
func (w *World) ClientAs(manager string) kubernetes.Interface {
	c, err := w.ClientAsE(manager)
	w.must(err)
	return c
}

// ApplyE server-side applies manifest (YAML or JSON, one or more documents of
// kind Service or ConfigMap; namespace defaults to the World's) as manager,
// as Argo CD with server-side apply or `kubectl apply --server-side` does.
// force takes over fields other managers own (Argo CD's Replace/force sync);
// without it a conflict is returned as the error.
func (w *World) ApplyE(manager, manifest string, force bool) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(manifest), 4096)
	for {
		var obj unstructured.Unstructured
		err := dec.Decode(&obj.Object)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("apply as %q: decode manifest: %w", manager, err)
		}
		if len(obj.Object) == 0 {
			continue // an empty document between "---"
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(w.Namespace)
		}
		body, err := json.Marshal(obj.Object)
		if err != nil {
			return err
		}
		opts := metav1.PatchOptions{FieldManager: manager, Force: &force}
		ns, name := obj.GetNamespace(), obj.GetName()
		switch obj.GetKind() {
		case "Service":
			_, err = w.Client.CoreV1().Services(ns).Patch(w.ctx, name, types.ApplyPatchType, body, opts)
		case "ConfigMap":
			_, err = w.Client.CoreV1().ConfigMaps(ns).Patch(w.ctx, name, types.ApplyPatchType, body, opts)
		default:
			return fmt.Errorf("apply as %q: kind %q not supported (Service, ConfigMap)", manager, obj.GetKind())
		}
		if err != nil {
			return fmt.Errorf("apply %s %s/%s as %q: %w", obj.GetKind(), ns, name, manager, err)
		}
	}
}

// Apply is ApplyE, failing the test on error.
func (w *World) Apply(manager, manifest string, force bool) {
	w.must(w.ApplyE(manager, manifest, force))
}

// Managers lists the field managers of an object's managedFields as
// "manager/operation[/subresource]", in order, for assertions and messages.
func Managers(obj metav1.Object) []string {
	var out []string
	for _, m := range obj.GetManagedFields() {
		s := m.Manager + "/" + string(m.Operation)
		if m.Subresource != "" {
			s += "/" + m.Subresource
		}
		out = append(out, s)
	}
	return out
}
