package plan

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// MuxPortsDiffer reports whether the live mux spec.ports differ from desired in
// what the agent writes: the set of {name, port, protocol}. The API server adds
// targetPort and nodePort, and order carries no meaning. It is the comparison the
// MuxPortsChanged Event is built from, exported so that `kubectl svcmux drift`
// calls a mux port drift exactly what the agent would change.
func MuxPortsDiffer(live, desired []corev1.ServicePort) bool {
	return portsChangeMessage(live, desired) != ""
}

// AnnotationChanges lists, sorted, the keys of want whose live value differs or is
// missing and the keys of remove that live still has: what a write of the
// agent-owned annotations changes. The MuxAnnotationsUpdated Event is posted
// exactly when it is not empty, and apply patches exactly these keys.
func AnnotationChanges(live, want map[string]string, remove []string) []string {
	var keys []string
	for k, v := range want {
		if lv, ok := live[k]; !ok || lv != v {
			keys = append(keys, k)
		}
	}
	for _, k := range remove {
		if _, ok := live[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
