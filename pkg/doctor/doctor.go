package doctor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// Resources an Input is read from; a failed read names one of them.
const (
	ResourceServices       = "services"
	ResourceEndpointSlices = "endpointslices"
	ResourceConfigMaps     = "configmaps"
	ResourceEndpoints      = "endpoints"
	ResourceDeployments    = "deployments"
	ResourceLeases         = "leases"
	ResourceRBAC           = "clusterroles"
	ResourceGitOps         = "gitops"
)

// Input is one read of the cluster, planned. The objects are never mutated.
type Input struct {
	Keys api.Keys
	// Now is when the read was made (lease freshness).
	Now time.Time
	// PluginVersion is the plugin's own version ("dev" for a development build).
	PluginVersion string
	// DefaultMuxNamespace is where the plugin expects the agent (install hint).
	DefaultMuxNamespace string
	// AgentSelector is the label selector the agent Deployments were listed with.
	AgentSelector string

	// Muxes in scope, each with the plan the agent computes for it.
	Muxes []Mux
	// Orphans are channels in scope whose class names no mux or does not parse.
	Orphans []Orphan
	// Services are every listed Service (NodePorts are a cluster-wide budget).
	Services []corev1.Service
	// LegacyEndpoints are the Endpoints in scope labelled app.kubernetes.io/managed-by=svc-lb-mux.
	LegacyEndpoints []corev1.Endpoints

	// Agents are the Deployments labelled AgentSelector; Lease is the leader Lease of
	// the first, nil when it does not exist.
	Agents []appsv1.Deployment
	Lease  *coordinationv1.Lease
	// RBAC is the agent's roles as the chart labels them.
	RBAC RBAC
	// GitOps are the Argo CD Applications and Flux Kustomizations, when those APIs exist.
	GitOps GitOps

	// Failed are the reads that did not succeed: each skips the checks that need it.
	Failed []ReadFailure
}

// Mux is one mux: what the planner read and what it decided.
type Mux struct {
	Snapshot plan.Snapshot
	Plan     plan.Plan
}

// Orphan is a channel no mux pass covers, with the outcome plan.Unattached gives it.
type Orphan struct {
	Service *corev1.Service
	Outcome plan.ChannelOutcome
}

// RBAC are the agent's ClusterRoles and the Roles in its namespace.
type RBAC struct {
	ClusterRoles []rbacv1.ClusterRole
	Roles        []rbacv1.Role
}

// ReadFailure is a read that failed: Why is shown as "could not check X: why".
type ReadFailure struct {
	Resource string
	Why      string
}

// Finding is one problem, in the catalog's words.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Object   string   `json:"object"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
	Docs     string   `json:"docs"`
}

// Skipped is a check that could not run.
type Skipped struct {
	Check string `json:"check"`
	Why   string `json:"why"`
}

// Report is every finding, sorted by (code, object), and every skipped check.
type Report struct {
	Findings []Finding
	Skipped  []Skipped
}

// Worst is the highest severity among the findings, "" when there is none.
func (r Report) Worst() Severity {
	var worst Severity
	for _, f := range r.Findings {
		if f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	return worst
}

// AtOrAbove counts the findings whose severity is at least s.
func (r Report) AtOrAbove(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity.Rank() >= s.Rank() {
			n++
		}
	}
	return n
}

// check is one diagnostic: the reads it needs and the findings it adds.
type check struct {
	name  string
	needs []string
	run   func(in *Input, r *reporter)
}

// checks in the order they run; the report is sorted afterwards.
var checks = []check{
	{CheckAgent, []string{ResourceDeployments}, checkAgents},
	{CheckLease, []string{ResourceDeployments, ResourceLeases}, checkLease},
	{CheckVersion, []string{ResourceDeployments}, checkVersion},
	{CheckRBAC, []string{ResourceRBAC}, checkRBAC},
	{CheckMux, []string{ResourceServices}, checkMuxes},
	{CheckDrift, []string{ResourceServices, ResourceEndpointSlices}, checkDrift},
	{CheckChannel, []string{ResourceServices}, checkChannels},
	{CheckChannelFields, []string{ResourceServices}, checkChannelFields},
	{CheckState, []string{ResourceServices, ResourceConfigMaps}, checkState},
	{CheckGitOps, []string{ResourceServices, ResourceGitOps}, checkGitOps},
	{CheckProvider, []string{ResourceServices}, checkProviders},
	{CheckNodePorts, []string{ResourceServices}, checkNodePorts},
	{CheckFinalizers, []string{ResourceServices}, checkFinalizers},
	{CheckLegacyEndpoint, []string{ResourceServices, ResourceEndpoints}, checkLegacyEndpoints},
	{CheckKopf, []string{ResourceServices}, checkKopf},
}

// Run runs every check whose reads succeeded; the others are skipped with why.
func Run(in Input) Report {
	r := &reporter{}
	for _, c := range checks {
		if f, failed := in.failed(c.needs); failed {
			r.skip(c.name, f.Why)
			continue
		}
		c.run(&in, r)
	}
	sort.SliceStable(r.report.Findings, func(i, j int) bool {
		a, b := r.report.Findings[i], r.report.Findings[j]
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Object < b.Object
	})
	sort.SliceStable(r.report.Skipped, func(i, j int) bool {
		a, b := r.report.Skipped[i], r.report.Skipped[j]
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Why < b.Why
	})
	if r.report.Findings == nil {
		r.report.Findings = []Finding{}
	}
	if r.report.Skipped == nil {
		r.report.Skipped = []Skipped{}
	}
	return r.report
}

func (in *Input) failed(needs []string) (ReadFailure, bool) {
	for _, f := range in.Failed {
		for _, n := range needs {
			if f.Resource == n {
				return f, true
			}
		}
	}
	return ReadFailure{}, false
}

// reporter collects findings by code; a code missing from the catalog is a bug.
type reporter struct{ report Report }

// add fills code's templates with args ({key} → value) and records the finding.
func (r *reporter) add(code, object string, args map[string]string) {
	e, ok := Lookup(code)
	if !ok {
		// A programming error (TestEveryCodeAChecksUsesIsInTheCatalog): say so, do not crash.
		e = Entry{Code: code, Severity: SeverityError, Message: fmt.Sprintf("doctor: code %s is not in the catalog", code)}
	}
	pairs := make([]string, 0, 2*len(args))
	for k, v := range args {
		pairs = append(pairs, "{"+k+"}", v)
	}
	fill := strings.NewReplacer(pairs...)
	r.report.Findings = append(r.report.Findings, Finding{Code: e.Code, Severity: e.Severity, Object: object,
		Message: fill.Replace(e.Message), Fix: fill.Replace(e.Fix), Docs: e.Docs})
}

func (r *reporter) skip(check, why string) {
	r.report.Skipped = append(r.report.Skipped, Skipped{Check: check, Why: why})
}

// serviceObject is how a finding names a Service.
func serviceObject(namespace, name string) string { return "Service " + namespace + "/" + name }

// svcArgs are the placeholders every Service finding shares.
func svcArgs(namespace, name string, more ...string) map[string]string {
	args := map[string]string{"namespace": namespace, "name": name}
	for i := 0; i+1 < len(more); i += 2 {
		args[more[i]] = more[i+1]
	}
	return args
}
