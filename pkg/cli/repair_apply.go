package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/nowakeai/svcmux/pkg/repair"
)

// apply writes every mux's repair that is not refused: a refused mux gets no write
// at all. The old state is saved before the new one is written; the first failed
// write of a mux stops that mux, and the error is returned after the others ran.
func (o *RepairOptions) apply(ctx context.Context, c kubernetes.Interface, targets []*repairTarget) error {
	if o.BackupFile != "" {
		if err := o.writeBackupFile(targets); err != nil {
			return err // nothing was written
		}
	}
	var errs []error
	for _, t := range targets {
		if len(t.doc.Refused) > 0 {
			continue
		}
		if err := o.applyOne(ctx, c, t); err != nil {
			errs = append(errs, fmt.Errorf("repair mux %s: %w", t.mux.key(), err))
		}
	}
	return errors.Join(errs...)
}

func (o *RepairOptions) applyOne(ctx context.Context, c kubernetes.Interface, t *repairTarget) error {
	if t.doc.State.Action != repair.ActionNone {
		if err := o.writeState(ctx, c, t); err != nil {
			return err
		}
	}
	if o.StripFinalizers {
		for _, ref := range t.doc.Finalizers {
			if err := o.stripFinalizer(ctx, c, t, t.services[ref.Namespace+"/"+ref.Name]); err != nil {
				return err
			}
		}
	}
	if o.DeleteLegacyEndpoints && len(t.doc.LegacyEndpoints) > 0 {
		return o.deleteLegacyEndpoints(ctx, c, t, t.mux.Snapshot.MuxEndpoints)
	}
	return nil
}

// record appends a write to the mux's document and returns err.
func (t *repairTarget) record(verb string, obj ObjectName, precondition string, err error) error {
	w := RepairWrite{Verb: verb, Object: obj, Precondition: precondition}
	if err != nil {
		w.Error = err.Error()
	}
	t.doc.Writes = append(t.doc.Writes, w)
	return err
}

// writeState saves the old ConfigMap (unless --backup-file did) and writes the new
// one: Update with the resourceVersion it was read at, Create when it was missing.
func (o *RepairOptions) writeState(ctx context.Context, c kubernetes.Interface, t *repairTarget) error {
	cms := c.CoreV1().ConfigMaps(t.doc.State.Namespace)
	opts := metav1.CreateOptions{FieldManager: RepairFieldManager}
	if t.old != nil && o.BackupFile == "" {
		b := repair.Backup(t.old, o.g.Keys(), repairClock())
		_, err := cms.Create(ctx, b, opts)
		if err := t.record("create", configMapName(b), "", err); err != nil {
			return fmt.Errorf("back up configmap %s/%s: %w", t.old.Namespace, t.old.Name, err)
		}
	}
	desired := t.doc.ConfigMap(t.old)
	if t.old == nil {
		_, err := cms.Create(ctx, desired, opts)
		if err := t.record("create", configMapName(desired), "", err); err != nil {
			return fmt.Errorf("create configmap %s/%s: %w", desired.Namespace, desired.Name, err)
		}
		return nil
	}
	// desired carries the resourceVersion read: the API server refuses the Update
	// (Conflict) when anyone changed the ConfigMap since.
	_, err := cms.Update(ctx, desired, metav1.UpdateOptions{FieldManager: RepairFieldManager})
	if err := t.record("update", configMapName(desired), t.old.ResourceVersion, err); err != nil {
		return fmt.Errorf("update configmap %s/%s: %w", desired.Namespace, desired.Name, err)
	}
	return nil
}

// stripFinalizer removes the Python controller's finalizer with a JSON patch whose
// test op makes it fail if the finalizers changed since they were read.
func (o *RepairOptions) stripFinalizer(ctx context.Context, c kubernetes.Interface, t *repairTarget, svc *corev1.Service) error {
	if svc == nil {
		return nil
	}
	keep := []string{}
	for _, f := range svc.Finalizers {
		if f != o.g.Keys().Finalizer {
			keep = append(keep, f)
		}
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/finalizers", "value": svc.Finalizers},
		{"op": "replace", "path": "/metadata/finalizers", "value": keep},
	})
	if err != nil {
		return err
	}
	_, err = c.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.JSONPatchType, patch,
		metav1.PatchOptions{FieldManager: RepairFieldManager})
	obj := ObjectName{Kind: "Service", Namespace: svc.Namespace, Name: svc.Name}
	if err := t.record("patch", obj, svc.ResourceVersion, err); err != nil {
		return fmt.Errorf("remove finalizer %s from service %s/%s: %w", o.g.Keys().Finalizer, svc.Namespace, svc.Name, err)
	}
	return nil
}

// deleteLegacyEndpoints deletes the Python controller's Endpoints object, only as
// read (same UID and resourceVersion), so a user's object of that name is never hit.
func (o *RepairOptions) deleteLegacyEndpoints(ctx context.Context, c kubernetes.Interface, t *repairTarget, ep *corev1.Endpoints) error {
	rv, uid := ep.ResourceVersion, ep.UID
	pre := &metav1.Preconditions{ResourceVersion: &rv}
	if uid != "" {
		pre.UID = &uid
	}
	err := c.CoreV1().Endpoints(ep.Namespace).Delete(ctx, ep.Name, metav1.DeleteOptions{Preconditions: pre})
	obj := ObjectName{Kind: "Endpoints", Namespace: ep.Namespace, Name: ep.Name}
	if err := t.record("delete", obj, rv, err); err != nil {
		return fmt.Errorf("delete endpoints %s/%s: %w", ep.Namespace, ep.Name, err)
	}
	return nil
}

// writeBackupFile saves the old state ConfigMaps that will be written as a v1 List
// in a new file (never over an existing one).
func (o *RepairOptions) writeBackupFile(targets []*repairTarget) error {
	var items []corev1.ConfigMap
	var saved []*repairTarget
	for _, t := range targets {
		if len(t.doc.Refused) > 0 || t.doc.State.Action == repair.ActionNone || t.old == nil {
			continue
		}
		// Without its server-set identity, so `kubectl replace -f FILE` (or apply) restores it.
		cm := t.old.DeepCopy()
		cm.ManagedFields, cm.UID, cm.ResourceVersion, cm.CreationTimestamp, cm.Generation = nil, "", "", metav1.Time{}, 0
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		items = append(items, *cm)
		saved = append(saved, t)
	}
	if len(items) == 0 {
		return nil
	}
	b, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(o.BackupFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(b)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write backup file: %w", err)
	}
	for _, t := range saved {
		t.doc.Writes = append(t.doc.Writes, RepairWrite{Verb: "backup-file", Object: configMapName(t.old),
			Precondition: t.old.ResourceVersion, File: o.BackupFile})
	}
	return nil
}

func configMapName(cm *corev1.ConfigMap) ObjectName {
	return ObjectName{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}
}
