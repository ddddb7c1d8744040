// Package doctor is the findings catalog of `kubectl svcmux doctor` and the pure
// checks that produce findings from one read of the cluster (Input). Every finding
// carries a stable code, a severity, the object it is about, a message and the fix
// as a command; the catalog is the single place those are written, and the docs
// page's table is generated from it. Checks do no I/O and read no clock: the
// caller passes what it read, what it could not read, and now.
package doctor

import "strings"

// Severity orders findings; --fail-on compares against it.
type Severity string

const (
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Rank is 0 for info, 1 for warning, 2 for error, -1 for anything else.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 0
	case SeverityWarning:
		return 1
	case SeverityError:
		return 2
	}
	return -1
}

// ParseSeverity accepts the names --fail-on takes.
func ParseSeverity(s string) (Severity, bool) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	return v, v.Rank() >= 0
}

// Entry is one catalog row. Message and Fix are templates whose {placeholders} a
// check fills in; the docs show them as written here.
type Entry struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Check    string   `json:"check"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
	Docs     string   `json:"docs"`
}

// DocsPage is where every code has its anchor (docs/plugin/doctor.md#svcmux101).
const DocsPage = "docs/plugin/doctor.md"

// Check names: a skipped check is reported under the same name.
const (
	CheckAgent          = "agent deployment"
	CheckLease          = "leader lease"
	CheckVersion        = "version skew"
	CheckRBAC           = "agent RBAC"
	CheckMux            = "mux validity"
	CheckDrift          = "drift summary"
	CheckChannel        = "channel validity"
	CheckChannelFields  = "channel fields"
	CheckState          = "state health"
	CheckGitOps         = "GitOps ignore rules"
	CheckProvider       = "provider caps"
	CheckNodePorts      = "NodePort budget"
	CheckFinalizers     = "leftover finalizers"
	CheckLegacyEndpoint = "leftover Endpoints"
	CheckKopf           = "leftover kopf annotations"
)

// The catalog, in code order. Codes are stable: never renumber, only add.
var catalog = []Entry{
	// 1xx: the agent and its RBAC.
	{Code: "SVCMUX101", Severity: SeverityError, Check: CheckAgent, Title: "agent not installed",
		Message: "no Deployment labelled {selector} in the cluster: nothing reconciles muxes and channels",
		Fix:     "helm install svcmux deploy/helm/svcmux -n {namespace} --create-namespace"},
	{Code: "SVCMUX102", Severity: SeverityError, Check: CheckAgent, Title: "agent not ready",
		Message: "agent Deployment {deployment} has no ready replica ({ready}/{desired}): nothing reconciles muxes and channels",
		Fix:     "kubectl -n {namespace} describe deployment {name}"},
	{Code: "SVCMUX103", Severity: SeverityWarning, Check: CheckAgent, Title: "agent partly ready",
		Message: "agent Deployment {deployment} has {ready} of {desired} replicas ready: a leader change has no standby",
		Fix:     "kubectl -n {namespace} describe deployment {name}"},
	{Code: "SVCMUX104", Severity: SeverityError, Check: CheckLease, Title: "leader Lease missing",
		Message: "no Lease {lease}: no agent replica has become leader, so none writes",
		Fix:     "kubectl -n {namespace} logs deployment/{name}"},
	{Code: "SVCMUX105", Severity: SeverityError, Check: CheckLease, Title: "leader Lease stale",
		Message: "Lease {lease} (holder {holder}) was last renewed {age} ago, more than twice its {duration} duration: no agent is leading",
		Fix:     "kubectl -n {namespace} logs deployment/{name}"},
	{Code: "SVCMUX106", Severity: SeverityWarning, Check: CheckVersion, Title: "plugin and agent versions differ",
		Message: "the plugin is {plugin} and agent Deployment {deployment} is {agent}: the plugin's predictions follow its own planner",
		Fix:     "kubectl krew upgrade svcmux"},
	{Code: "SVCMUX107", Severity: SeverityError, Check: CheckRBAC, Title: "agent RBAC incomplete",
		Message: "the agent's roles ({roles}) do not grant: {missing}; those writes fail",
		Fix:     "helm upgrade {release} deploy/helm/svcmux -n {namespace} --reuse-values"},
	{Code: "SVCMUX108", Severity: SeverityWarning, Check: CheckAgent, Title: "more than one agent",
		Message: "{count} agent Deployments ({deployments}): agents with different Leases both write the same muxes",
		Fix:     "kubectl -n {namespace} delete deployment {name}"},

	// 2xx: muxes.
	{Code: "SVCMUX201", Severity: SeverityError, Check: CheckMux, Title: "mux has a selector (NotSupported)",
		Message: "{detail}; the agent changes nothing on it until it is fixed",
		Fix:     `kubectl -n {namespace} patch svc {name} --type=json -p '[{"op":"remove","path":"/spec/selector"}]'`},
	{Code: "SVCMUX202", Severity: SeverityError, Check: CheckMux, Title: "mux is not a LoadBalancer",
		Message: "{detail}; the agent changes nothing on it until it is fixed",
		Fix:     `kubectl -n {namespace} patch svc {name} -p '{"spec":{"type":"LoadBalancer"}}'`},
	{Code: "SVCMUX203", Severity: SeverityError, Check: CheckMux, Title: "invalid port range",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}=20000-20099"},
	{Code: "SVCMUX204", Severity: SeverityError, Check: CheckMux, Title: "invalid max-ports",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}=100"},
	{Code: "SVCMUX205", Severity: SeverityWarning, Check: CheckDrift, Title: "agent-owned fields drifted",
		Message: "{count} agent-owned field(s) differ from what the agent writes: {fields}; a running agent restores them on its next pass, a writer that keeps putting them back fights it",
		Fix:     "kubectl svcmux drift {mux}"},
	{Code: "SVCMUX206", Severity: SeverityError, Check: CheckMux, Title: "invalid allowed-namespaces rule (InvalidAllowedNamespaces)",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}='team-a,team-*'"},

	// 3xx: channels.
	{Code: "SVCMUX301", Severity: SeverityError, Check: CheckChannel, Title: "channel names no mux (MuxNotFound)",
		Message: "{detail}",
		Fix:     "kubectl -n {muxNamespace} annotate svc {muxName} {key}=true"},
	{Code: "SVCMUX302", Severity: SeverityError, Check: CheckChannel, Title: "invalid loadBalancerClass",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} get svc {name} -o yaml > channel.yaml  # fix spec.loadBalancerClass (immutable), then: kubectl replace --force -f channel.yaml"},
	{Code: "SVCMUX303", Severity: SeverityError, Check: CheckChannel, Title: "channel port without a name (InvalidPort)",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} edit svc {name}  # give every spec.ports[] entry a name"},
	{Code: "SVCMUX304", Severity: SeverityError, Check: CheckChannel, Title: "invalid external-ports (InvalidPortMapping)",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}=<port-name>:auto"},
	{Code: "SVCMUX305", Severity: SeverityError, Check: CheckChannel, Title: "public port owned by another channel (MuxPortConflict)",
		Message: "{detail}",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}=<port-name>:auto"},
	{Code: "SVCMUX306", Severity: SeverityError, Check: CheckChannel, Title: "mux port limit reached (MuxPortLimitExceeded)",
		Message: "{detail}",
		Fix:     "kubectl -n {muxNamespace} annotate svc {muxName} --overwrite {key}=<more ports>"},
	{Code: "SVCMUX307", Severity: SeverityError, Check: CheckChannel, Title: "channel rejected",
		Message: "{reason}: {detail}",
		Fix:     "kubectl -n {namespace} describe svc {name}"},
	{Code: "SVCMUX308", Severity: SeverityWarning, Check: CheckChannel, Title: "edit refused, last ports kept",
		Message: "{reason}: {detail}",
		Fix:     "kubectl -n {namespace} describe svc {name}"},
	{Code: "SVCMUX309", Severity: SeverityWarning, Check: CheckChannelFields, Title: "field a shared load balancer cannot honour",
		Message: "channel {channel} sets {fields}, which the shared load balancer of mux {mux} cannot honour; set them on the mux, or give the workload its own load balancer",
		Fix:     "kubectl -n {namespace} edit svc {name}  # remove {fields}"},
	{Code: "SVCMUX310", Severity: SeverityError, Check: CheckChannel, Title: "namespace not admitted by the mux (NamespaceNotAllowed)",
		Message: "{detail}",
		Fix:     "kubectl -n {muxNamespace} annotate svc {muxName} --overwrite {key}='<allowed namespaces>,{namespace}'"},

	// 4xx: the state ConfigMap.
	{Code: "SVCMUX401", Severity: SeverityError, Check: CheckState, Title: "state ConfigMap invalid",
		Message: "{detail}; the agent never writes it, owners keep their ports and no new automatic port is given",
		Fix:     "kubectl svcmux repair {mux} --apply"},
	{Code: "SVCMUX402", Severity: SeverityError, Check: CheckState, Title: "state ConfigMap belongs to another mux",
		Message: "{detail}",
		Fix:     "kubectl svcmux repair {mux} --apply"},
	{Code: "SVCMUX403", Severity: SeverityInfo, Check: CheckState, Title: "state ConfigMap missing",
		Message: "mux {mux} has no state ConfigMap {configmap} yet; the agent creates it on its next pass, recovering owners from the live mux",
		Fix:     "kubectl svcmux repair {mux}"},
	{Code: "SVCMUX404", Severity: SeverityInfo, Check: CheckState, Title: "state in the older format",
		Message: "state ConfigMap {configmap} has only allocations (the older format); the agent migrates it to portClaims on its next pass",
		Fix:     "kubectl svcmux repair {mux}"},

	// 5xx: GitOps.
	{Code: "SVCMUX501", Severity: SeverityWarning, Check: CheckGitOps, Title: "Argo CD does not ignore mux spec.ports",
		Message: "Argo CD Application {app} manages mux {mux} without ignoreDifferences for /spec/ports: every sync puts the placeholder back",
		Fix:     "kubectl svcmux gitops {mux} --tool argocd"},
	{Code: "SVCMUX502", Severity: SeverityWarning, Check: CheckGitOps, Title: "Argo CD ignores but does not respect",
		Message: "Argo CD Application {app} ignores mux {mux} /spec/ports but lacks syncOptions RespectIgnoreDifferences=true: a sync still applies them",
		Fix:     "kubectl svcmux gitops {mux} --tool argocd"},
	{Code: "SVCMUX503", Severity: SeverityWarning, Check: CheckGitOps, Title: "Flux re-applies mux spec.ports",
		Message: "Flux Kustomization {app} manages mux {mux}, which lacks kustomize.toolkit.fluxcd.io/ssa: IfNotPresent: each reconcile puts its spec.ports back",
		Fix:     "kubectl svcmux gitops {mux} --tool flux"},

	// 6xx: provider caps and capacity.
	{Code: "SVCMUX601", Severity: SeverityError, Check: CheckProvider, Title: "GKE 100-port cap exceeded",
		Message: "mux {mux} is GKE-backed (at most 100 ports) and its channels declare {declared} ports; {rejected} channel(s) are refused over the cap",
		Fix:     "kubectl svcmux topology {mux}  # move the refused channels to a second mux"},
	{Code: "SVCMUX602", Severity: SeverityError, Check: CheckProvider, Title: "AWS NLB 50-listener cap exceeded",
		Message: "mux {mux} is an AWS NLB (at most 50 listeners, one per port and protocol) and its channels declare {declared} ports; {rejected} channel(s) are refused over the cap",
		Fix:     "kubectl svcmux topology {mux}  # move the refused channels to a second mux"},
	{Code: "SVCMUX603", Severity: SeverityInfo, Check: CheckProvider, Title: "GKE port span",
		Message: "mux {mux} has {ports} ports on GKE, which forwards a Service with more than 5 ports as one range: {min}-{max} ({span} ports) reach the nodes",
		Fix:     "kubectl -n {namespace} annotate svc {name} --overwrite {key}=<a compact range>"},
	{Code: "SVCMUX604", Severity: SeverityWarning, Check: CheckNodePorts, Title: "NodePort range nearly full",
		Message: "{used} NodePorts are allocated, {percent}% of the default range 30000-32767 (2768); the muxes in scope hold {muxes} (one per port while allocateLoadBalancerNodePorts is not false), channels that never use theirs {channels}",
		Fix:     "kubectl svcmux doctor --fail-on warning  # patch every SVCMUX605 channel"},
	{Code: "SVCMUX605", Severity: SeverityWarning, Check: CheckNodePorts, Title: "channel wastes NodePorts",
		Message: "channel {channel} {why}; a channel's own load balancer is never provisioned, so its NodePorts are never used",
		Fix:     `kubectl -n {namespace} patch svc {name} {patch}`},
	{Code: "SVCMUX606", Severity: SeverityWarning, Check: CheckNodePorts, Title: "NodePorts not remembered (NodePort churn)",
		Message: "mux {mux}: {detail}; until the agent's next pass remembers them, a full replace of its spec.ports (a GitOps PUT) gives those ports new NodePorts and a load balancer that routes to NodePorts reprograms",
		Fix:     "kubectl -n {namespace} get events --field-selector involvedObject.name={name},reason=NodePortReassigned  # the agent remembers the live NodePorts on its next pass; a SVCMUX1xx finding says when none runs"},

	// 7xx: leftovers of the previous controller (svc-lb-mux).
	{Code: "SVCMUX701", Severity: SeverityWarning, Check: CheckFinalizers, Title: "leftover finalizer",
		Message: "{kind} {object} carries svc-lb-mux's finalizer {finalizer}: a delete hangs until a running agent removes it",
		Fix:     `kubectl -n {namespace} patch svc {name} --type=json -p '[{"op":"remove","path":"/metadata/finalizers/{index}"}]'`},
	{Code: "SVCMUX702", Severity: SeverityWarning, Check: CheckLegacyEndpoint, Title: "leftover Endpoints of svc-lb-mux",
		Message: "Endpoints {object} left by svc-lb-mux is mirrored into EndpointSlices that route mux {mux} to stale backends beside the agent's slices",
		Fix:     "kubectl -n {namespace} delete endpoints {name}"},
	{Code: "SVCMUX703", Severity: SeverityInfo, Check: CheckKopf, Title: "leftover kopf annotations",
		Message: "{kind} {object} carries svc-lb-mux's kopf annotations {keys}; nothing reads them any more",
		Fix:     "kubectl -n {namespace} annotate svc {name} {removals}"},
}

// Catalog returns every entry in code order, each with its docs anchor.
func Catalog() []Entry {
	out := make([]Entry, len(catalog))
	for i, e := range catalog {
		out[i] = withDocs(e)
	}
	return out
}

// Lookup returns the entry of code.
func Lookup(code string) (Entry, bool) {
	for _, e := range catalog {
		if e.Code == code {
			return withDocs(e), true
		}
	}
	return Entry{}, false
}

func withDocs(e Entry) Entry {
	e.Docs = DocsPage + "#" + strings.ToLower(e.Code)
	return e
}
