package world

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// SiblingE creates the namespace "<World's namespace>-<suffix>" with labels
// and returns a World on it sharing this one's control plane, context and
// settings; the namespace is deleted when the test ends. Tenancy tests need
// channels in namespaces whose names they choose.
func (w *World) SiblingE(suffix string, labels map[string]string) (*World, error) {
	name := w.Namespace + "-" + suffix
	_, err := w.Client.CoreV1().Namespaces().Create(w.ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	if w.t != nil {
		w.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := w.CP.Client().CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				w.t.Errorf("delete namespace %s: %v", name, err)
			}
		})
	}
	s := *w
	s.Namespace = name
	return &s, nil
}

// Sibling is SiblingE, failing the test on error.
func (w *World) Sibling(suffix string, labels map[string]string) *World {
	s, err := w.SiblingE(suffix, labels)
	w.must(err)
	return s
}

// LabelNamespaceE sets (or, for a nil value, removes) labels on the World's namespace.
func (w *World) LabelNamespaceE(labels map[string]*string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if err != nil {
		return err
	}
	_, err = w.Client.CoreV1().Namespaces().Patch(w.ctx, w.Namespace, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("label namespace %s: %w", w.Namespace, err)
	}
	return nil
}

// LabelNamespace is LabelNamespaceE, failing the test on error.
func (w *World) LabelNamespace(labels map[string]*string) { w.must(w.LabelNamespaceE(labels)) }
