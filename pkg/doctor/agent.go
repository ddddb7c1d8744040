package doctor

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// AgentConfig is what doctor needs to know about how an agent Deployment runs,
// read from its container args (the chart passes every setting as a flag).
type AgentConfig struct {
	LeaderElect    bool
	LeaseNamespace string
	LeaseName      string
	LeaseDuration  time.Duration
	EndpointsMode  string
}

// Agent flag defaults (pkg/agent/config.go): kept here because doctor must read a
// Deployment the way the agent reads its own flags.
const (
	defaultLeaseName     = "svcmux-agent"
	defaultLeaseDuration = 15 * time.Second
	defaultEndpointsMode = "slices"
)

// ParseAgentConfig reads d's first container's --flag=value args; a flag not given
// takes the agent's default (the Lease in the Deployment's namespace). Leader
// election is on by default, as in the agent.
func ParseAgentConfig(d *appsv1.Deployment) AgentConfig {
	cfg := AgentConfig{LeaderElect: true, LeaseNamespace: d.Namespace, LeaseName: defaultLeaseName,
		LeaseDuration: defaultLeaseDuration, EndpointsMode: defaultEndpointsMode}
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return cfg
	}
	c := d.Spec.Template.Spec.Containers[0]
	args := append(append([]string(nil), c.Command...), c.Args...)
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			continue
		}
		switch name {
		case "leader-elect":
			if b, err := strconv.ParseBool(value); err == nil {
				cfg.LeaderElect = b
			}
		case "leader-election-namespace":
			if value != "" {
				cfg.LeaseNamespace = value
			}
		case "leader-election-id":
			if value != "" {
				cfg.LeaseName = value
			}
		case "leader-election-lease-duration":
			if dur, err := time.ParseDuration(value); err == nil && dur > 0 {
				cfg.LeaseDuration = dur
			}
		case "endpoints-mode":
			cfg.EndpointsMode = value
		}
	}
	return cfg
}

func deploymentRef(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }

func checkAgents(in *Input, r *reporter) {
	if len(in.Agents) == 0 {
		r.add("SVCMUX101", "cluster", map[string]string{"selector": in.AgentSelector, "namespace": in.DefaultMuxNamespace})
		return
	}
	if len(in.Agents) > 1 {
		refs := make([]string, len(in.Agents))
		for i := range in.Agents {
			refs[i] = deploymentRef(&in.Agents[i])
		}
		extra := &in.Agents[len(in.Agents)-1]
		r.add("SVCMUX108", "cluster", svcArgs(extra.Namespace, extra.Name,
			"count", strconv.Itoa(len(in.Agents)), "deployments", strings.Join(refs, ", ")))
	}
	for i := range in.Agents {
		d := &in.Agents[i]
		desired := int32(1)
		if d.Spec.Replicas != nil {
			desired = *d.Spec.Replicas
		}
		ready := d.Status.ReadyReplicas
		args := svcArgs(d.Namespace, d.Name, "deployment", deploymentRef(d),
			"ready", strconv.Itoa(int(ready)), "desired", strconv.Itoa(int(desired)))
		switch {
		case ready == 0:
			r.add("SVCMUX102", "Deployment "+deploymentRef(d), args)
		case ready < desired:
			r.add("SVCMUX103", "Deployment "+deploymentRef(d), args)
		}
	}
}

// checkLease looks at the first agent's Lease: fresh means renewed within twice its
// duration of now (one missed renewal is normal during a hand-over).
func checkLease(in *Input, r *reporter) {
	if len(in.Agents) == 0 {
		return // SVCMUX101 says it all
	}
	d := &in.Agents[0]
	cfg := ParseAgentConfig(d)
	if !cfg.LeaderElect {
		return
	}
	lease := cfg.LeaseNamespace + "/" + cfg.LeaseName
	args := svcArgs(d.Namespace, d.Name, "lease", lease)
	if in.Lease == nil {
		r.add("SVCMUX104", "Lease "+lease, args)
		return
	}
	duration := cfg.LeaseDuration
	if s := in.Lease.Spec.LeaseDurationSeconds; s != nil && *s > 0 {
		duration = time.Duration(*s) * time.Second
	}
	holder := "none"
	if h := in.Lease.Spec.HolderIdentity; h != nil && *h != "" {
		holder = *h
	}
	age := "never"
	if rt := in.Lease.Spec.RenewTime; rt != nil {
		if in.Now.Sub(rt.Time) <= 2*duration {
			return
		}
		age = in.Now.Sub(rt.Time).Round(time.Second).String()
	}
	args["holder"], args["age"], args["duration"] = holder, age, duration.String()
	r.add("SVCMUX105", "Lease "+lease, args)
}

// checkVersion compares major.minor: a patch release changes no planning rule.
func checkVersion(in *Input, r *reporter) {
	if len(in.Agents) == 0 {
		return
	}
	plugin := in.PluginVersion
	if minor(plugin) == "" {
		r.skip(CheckVersion, fmt.Sprintf("the plugin is a development build (version %q)", plugin))
		return
	}
	for i := range in.Agents {
		d := &in.Agents[i]
		agent := d.Labels["app.kubernetes.io/version"]
		if minor(agent) == "" {
			r.skip(CheckVersion, fmt.Sprintf("agent Deployment %s has no app.kubernetes.io/version label", deploymentRef(d)))
			continue
		}
		if minor(agent) != minor(plugin) {
			r.add("SVCMUX106", "Deployment "+deploymentRef(d), svcArgs(d.Namespace, d.Name,
				"deployment", deploymentRef(d), "plugin", plugin, "agent", agent))
		}
	}
}

// minor is "1.2" of "v1.2.3-rc.1", "" when v is not a version.
func minor(v string) string {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return ""
	}
	for _, p := range parts[:2] {
		if _, err := strconv.Atoi(p); err != nil {
			return ""
		}
	}
	return parts[0] + "." + parts[1]
}

// grant is one right the agent uses (SPEC §7, the chart's rbac.yaml).
type grant struct{ group, resource, verb string }

var agentNeeds = func() []grant {
	var out []grant
	add := func(group, resource string, verbs ...string) {
		for _, v := range verbs {
			out = append(out, grant{group, resource, v})
		}
	}
	add("", "services", "list", "watch", "patch")
	add("", "services/status", "patch")
	add("discovery.k8s.io", "endpointslices", "list", "watch", "create", "update", "delete")
	add("", "endpoints", "list", "watch", "create", "update", "delete")
	add("", "configmaps", "list", "watch", "create", "patch")
	add("", "events", "create", "patch")
	add("coordination.k8s.io", "leases", "create", "get", "update")
	return out
}()

// checkRBAC reads the chart-labelled roles; with none, nothing can be said.
func checkRBAC(in *Input, r *reporter) {
	if len(in.RBAC.ClusterRoles) == 0 {
		r.skip(CheckRBAC, "no ClusterRole labelled "+in.AgentSelector+" (RBAC not installed by the chart)")
		return
	}
	var rules []rbacv1.PolicyRule
	var names []string
	release, namespace := "svcmux", in.DefaultMuxNamespace
	for _, cr := range in.RBAC.ClusterRoles {
		rules = append(rules, cr.Rules...)
		names = append(names, "ClusterRole "+cr.Name)
		if v := cr.Labels["app.kubernetes.io/instance"]; v != "" {
			release = v
		}
	}
	for _, role := range in.RBAC.Roles {
		rules = append(rules, role.Rules...)
		names = append(names, "Role "+role.Namespace+"/"+role.Name)
		namespace = role.Namespace
	}
	var missing []string
	for _, g := range agentNeeds {
		if !granted(rules, g) {
			missing = append(missing, g.verb+" "+g.resource)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(names)
	r.add("SVCMUX107", names[0], map[string]string{"roles": strings.Join(names, ", "),
		"missing": strings.Join(missing, ", "), "release": release, "namespace": namespace})
}

func granted(rules []rbacv1.PolicyRule, g grant) bool {
	for _, rule := range rules {
		if has(rule.APIGroups, g.group) && has(rule.Resources, g.resource) && has(rule.Verbs, g.verb) {
			return true
		}
	}
	return false
}

func has(list []string, v string) bool {
	for _, x := range list {
		if x == v || x == "*" {
			return true
		}
	}
	return false
}
