package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/doctor"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// readListsTolerant is readLists for doctor: every List runs, and each one that
// fails is returned on its own, so one Forbidden kind skips the checks that need
// it instead of stopping the command.
func readListsTolerant(ctx context.Context, c kubernetes.Interface) (snapshot.Lists, []*ReadError) {
	var l snapshot.Lists
	var errs []*ReadError
	note := func(resource string, err error) {
		if err != nil {
			errs = append(errs, &ReadError{Resource: resource, Err: err})
		}
	}
	// One after another: doctor reads a handful of kinds once, and sequential
	// reads keep the failures' order (and so the report) deterministic.
	if r, err := c.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err == nil {
		l.Services = r.Items
	} else {
		note(doctor.ResourceServices, err)
	}
	if r, err := c.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err == nil {
		l.EndpointSlices = r.Items
	} else {
		note(doctor.ResourceEndpointSlices, err)
	}
	if r, err := c.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: stateConfigMapSelector}); err == nil {
		l.ConfigMaps = r.Items
	} else {
		note(doctor.ResourceConfigMaps, err)
	}
	if r, err := c.CoreV1().Endpoints("").List(ctx, metav1.ListOptions{LabelSelector: legacyEndpointsSelector}); err == nil {
		l.Endpoints = r.Items
	} else {
		note(doctor.ResourceEndpoints, err)
	}
	return l, errs
}

// readAgent fills the agent's Deployments, its Lease and its roles into in.
func readAgent(ctx context.Context, c kubernetes.Interface, in *doctor.Input) {
	list, err := c.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: AgentSelector})
	if err != nil {
		in.Failed = append(in.Failed, failure(doctor.ResourceDeployments, err))
	} else {
		for _, d := range list.Items {
			if d.DeletionTimestamp == nil {
				in.Agents = append(in.Agents, d)
			}
		}
		sort.Slice(in.Agents, func(i, j int) bool { return deploymentKey(&in.Agents[i]) < deploymentKey(&in.Agents[j]) })
	}
	readRBAC(ctx, c, in)
	if len(in.Agents) == 0 {
		return
	}
	cfg := doctor.ParseAgentConfig(&in.Agents[0])
	if !cfg.LeaderElect {
		return
	}
	lease, err := c.CoordinationV1().Leases(cfg.LeaseNamespace).Get(ctx, cfg.LeaseName, metav1.GetOptions{})
	switch {
	case err == nil:
		in.Lease = lease
	case !apierrors.IsNotFound(err):
		in.Failed = append(in.Failed, doctor.ReadFailure{Resource: doctor.ResourceLeases,
			Why: fmt.Sprintf("could not get Lease %s/%s: %v", cfg.LeaseNamespace, cfg.LeaseName, err)})
	}
}

func deploymentKey(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }

// readRBAC reads the agent's roles by the chart's labels (the Deployment's own).
func readRBAC(ctx context.Context, c kubernetes.Interface, in *doctor.Input) {
	crs, err := c.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: AgentSelector})
	if err != nil {
		in.Failed = append(in.Failed, failure(doctor.ResourceRBAC, err))
		return
	}
	in.RBAC.ClusterRoles = crs.Items
	if len(in.Agents) == 0 {
		return
	}
	roles, err := c.RbacV1().Roles(in.Agents[0].Namespace).List(ctx, metav1.ListOptions{LabelSelector: AgentSelector})
	if err != nil {
		in.Failed = append(in.Failed, doctor.ReadFailure{Resource: doctor.ResourceRBAC,
			Why: fmt.Sprintf("could not list Roles in %s: %v", in.Agents[0].Namespace, err)})
		return
	}
	in.RBAC.Roles = roles.Items
}

// GitOps API groups doctor looks for, and the resource it lists in each.
var gitopsGroups = []struct{ group, resource string }{
	{"argoproj.io", "applications"},
	{"kustomize.toolkit.fluxcd.io", "kustomizations"},
}

// readGitOps lists Argo CD Applications and Flux Kustomizations when the cluster
// serves their APIs; with neither there is nothing to check.
func readGitOps(ctx context.Context, c kubernetes.Interface, in *doctor.Input) {
	groups, err := c.Discovery().ServerGroups()
	if err != nil {
		in.Failed = append(in.Failed, doctor.ReadFailure{Resource: doctor.ResourceGitOps, Why: "could not discover API groups: " + err.Error()})
		return
	}
	for _, want := range gitopsGroups {
		for _, g := range groups.Groups {
			if g.Name != want.group {
				continue
			}
			if err := listGitOps(ctx, c, g.PreferredVersion.GroupVersion, want.resource, in); err != nil {
				in.Failed = append(in.Failed, doctor.ReadFailure{Resource: doctor.ResourceGitOps, Why: "could not " + err.Error()})
			}
		}
	}
}

func listGitOps(ctx context.Context, c kubernetes.Interface, groupVersion, resource string, in *doctor.Input) error {
	rc := c.Discovery().RESTClient()
	if rc == nil {
		return fmt.Errorf("list %s.%s: no REST client", resource, groupVersion)
	}
	raw, err := rc.Get().AbsPath("/apis/" + groupVersion + "/" + resource).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("list %s (%s): %w", resource, groupVersion, err)
	}
	switch resource {
	case "applications":
		apps, err := doctor.ParseArgoApplications(raw)
		in.GitOps.Applications = append(in.GitOps.Applications, apps...)
		return err
	default:
		ks, err := doctor.ParseFluxKustomizations(raw)
		in.GitOps.Kustomizations = append(in.GitOps.Kustomizations, ks...)
		return err
	}
}

// failure is a read that failed, worded as the skipped check's reason.
func failure(resource string, err error) doctor.ReadFailure {
	var re *ReadError
	if errors.As(err, &re) {
		return doctor.ReadFailure{Resource: resource, Why: re.Error()}
	}
	return doctor.ReadFailure{Resource: resource, Why: (&ReadError{Resource: resource, Err: err}).Error()}
}
