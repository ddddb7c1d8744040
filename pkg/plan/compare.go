package plan

import corev1 "k8s.io/api/core/v1"

// MuxPortsDiffer reports whether the live mux spec.ports differ from desired in
// what the agent writes: the set of {name, port, protocol}. The API server adds
// targetPort and nodePort, and order carries no meaning. It is the comparison the
// MuxPortsChanged Event is built from, exported so that `kubectl svcmux drift`
// calls a mux port drift exactly what the agent would change.
func MuxPortsDiffer(live, desired []corev1.ServicePort) bool {
	return portsChangeMessage(live, desired) != ""
}
