package cli

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/apply"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// maxCheckPasses bounds settle. A pass's own writes change what the next pass
// reads (the channels it accepts are owners then), so the agent may take a second
// pass to settle; more than a few would mean the planner does not converge.
const maxCheckPasses = 5

// settle plans the lists the way the agent runs: a pass, its writes, and the next
// pass over what they wrote, until a pass would write nothing to the Services and
// ConfigMaps the planner reads. The writes are the agent's own (apply.Diff), done
// in memory. It returns the last plan, the number of passes, and whether the last
// pass wrote nothing.
func (g *Globals) settle(l snapshot.Lists) (*Cluster, int, bool, error) {
	for pass := 1; ; pass++ {
		cl, err := g.planLists(l, "")
		if err != nil {
			return nil, pass, false, err
		}
		next, changed, err := afterPass(cl)
		if err != nil {
			return nil, pass, false, err
		}
		if !changed || pass == maxCheckPasses {
			return cl, pass, !changed, nil
		}
		l = next
	}
}

// afterPass is cl's lists with every mux pass's writes to Services and ConfigMaps
// done. Endpoint writes are left out: no decision reads the mux's own endpoints.
// Objects are copied before they change: cl's lists stay as they were.
func afterPass(cl *Cluster) (snapshot.Lists, bool, error) {
	l := cl.Lists
	l.Services = append([]corev1.Service(nil), l.Services...)
	l.ConfigMaps = append([]corev1.ConfigMap(nil), l.ConfigMaps...)
	changed := false
	for _, m := range cl.Muxes {
		for _, w := range apply.Diff(m.Plan, m.Snapshot) {
			var err error
			switch w.Resource {
			case "services":
				err = patchListed(l.Services, w)
			case "configmaps":
				l.ConfigMaps, err = writeConfigMap(l.ConfigMaps, w)
			default:
				continue
			}
			if err != nil {
				return l, false, fmt.Errorf("simulate the agent's write %s: %w", w, err)
			}
			changed = true
		}
	}
	return l, changed, nil
}

// patchListed applies a patch write to the listed object it names.
func patchListed[T any, P interface {
	*T
	GetNamespace() string
	GetName() string
}](list []T, w apply.Write) error {
	for i := range list {
		obj := P(&list[i])
		if obj.GetNamespace() != w.Namespace || obj.GetName() != w.Name {
			continue
		}
		var out T
		if err := apply.PatchObject(obj, &out, w); err != nil {
			return err
		}
		list[i] = out
		return nil
	}
	return fmt.Errorf("%s/%s is not in the lists", w.Namespace, w.Name)
}

// writeConfigMap creates or patches a ConfigMap in the list.
func writeConfigMap(list []corev1.ConfigMap, w apply.Write) ([]corev1.ConfigMap, error) {
	if w.Verb == apply.VerbCreate || w.Verb == apply.VerbUpdate {
		cm, ok := w.Object.(*corev1.ConfigMap)
		if !ok {
			return list, fmt.Errorf("object is %T, not a ConfigMap", w.Object)
		}
		for i := range list {
			if list[i].Namespace == cm.Namespace && list[i].Name == cm.Name {
				list[i] = *cm.DeepCopy()
				return list, nil
			}
		}
		return append(list, *cm.DeepCopy()), nil
	}
	return list, patchListed(list, w)
}
