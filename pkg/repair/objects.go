package repair

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Backup labels: the backup keeps the app name, so `kubectl get cm -l
// app.kubernetes.io/name=svc-lb-mux` finds it, but not the mux-state component the
// agent selects on, so it is never read as state.
const (
	ComponentStateBackup = "mux-state-backup"
	// AnnotationBackupOf names the ConfigMap and resourceVersion a backup was taken from.
	AnnotationBackupOf = "backup-of"
)

// unifiedDiff is allocations.json old → new, with the ConfigMap as the file names.
func unifiedDiff(st State, old, new string) string {
	if old == new {
		return ""
	}
	name := st.Namespace + "/" + st.Name
	d := difflib.UnifiedDiff{B: lines(new), FromFile: name + " (live)", ToFile: name + " (repaired)", Context: 3}
	if old != "" {
		d.A = lines(old)
	} else {
		d.FromFile = name + " (missing)"
	}
	text, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		// Writing to a strings.Builder cannot fail; say so rather than hide it.
		return fmt.Sprintf("diff failed: %v\n", err)
	}
	return text
}

// lines splits a document with no trailing newline into lines that each end in one.
func lines(s string) []string { return difflib.SplitLines(s) }

// ConfigMap is the repaired state ConfigMap: old (nil when missing) with the rebuilt
// allocations.json and SPEC §4's labels and annotation. Other keys (nodeports.json),
// labels and annotations are kept; the resourceVersion is old's, so an Update is
// refused when anything changed the ConfigMap since it was read.
func (p Plan) ConfigMap(old *corev1.ConfigMap) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: p.State.Namespace, Name: p.State.Name}}
	if old != nil {
		cm = old.DeepCopy()
		cm.ManagedFields = nil
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	for k, v := range p.Labels {
		cm.Labels[k] = v
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	for k, v := range p.Annotations {
		cm.Annotations[k] = v
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[api.StateKey] = p.New
	if p.NodePorts != "" {
		cm.Data[api.NodePortsKey] = p.NodePorts
	}
	return cm
}

// BackupName is "<name>-backup-<unix time>".
func BackupName(name string, now time.Time) string {
	return name + "-backup-" + strconv.FormatInt(now.Unix(), 10)
}

// Backup is a copy of the old state ConfigMap's data under BackupName, labelled so
// that the agent never reads it as state, annotated with where it came from.
func Backup(old *corev1.ConfigMap, keys api.Keys, now time.Time) *corev1.ConfigMap {
	b := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: old.Namespace, Name: BackupName(old.Name, now),
			Labels: map[string]string{api.LabelName: api.AppName, api.LabelComponent: ComponentStateBackup},
			Annotations: map[string]string{
				keys.Prefix + "/" + AnnotationBackupOf: old.Namespace + "/" + old.Name + "@" + old.ResourceVersion,
			},
		},
		Data:       map[string]string{},
		BinaryData: map[string][]byte{},
	}
	for k, v := range old.Data {
		b.Data[k] = v
	}
	for k, v := range old.BinaryData {
		b.BinaryData[k] = v
	}
	return b
}
