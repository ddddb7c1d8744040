package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// Cluster is one read of the cluster, planned: every mux in scope with the plan the
// agent would compute for it, and the channels in scope that name no mux.
type Cluster struct {
	Keys  api.Keys
	Opts  plan.Options
	Lists snapshot.Lists
	// Reader indexes Lists the way the agent's informers are indexed.
	Reader *snapshot.Reader
	Muxes  []MuxView
	// Orphans are channels whose class does not parse or names no mux, as the
	// agent's unattached pass sees them (MuxNotFound, InvalidLoadBalancerClass).
	Orphans []OrphanView
}

// MuxView is one mux, what the planner read for it and what it decided.
type MuxView struct {
	Mux      *corev1.Service
	Snapshot plan.Snapshot
	Plan     plan.Plan
}

// OrphanView is a channel no mux pass covers.
type OrphanView struct {
	Service *corev1.Service
	Mux     string // the ns/name its class names, "" when the class does not parse
	// Detached: no longer a channel, but it still carries svcmux's annotation or
	// condition, which the agent removes.
	Detached bool
	Outcome  plan.ChannelOutcome
}

// ReadError is a List the plugin could not do; Forbidden ones become "could not
// check" in doctor and an exit 2 elsewhere.
type ReadError struct {
	Resource string
	Err      error
}

func (e *ReadError) Error() string { return fmt.Sprintf("could not list %s: %v", e.Resource, e.Err) }
func (e *ReadError) Unwrap() error { return e.Err }

// Forbidden reports whether the read was refused by RBAC.
func (e *ReadError) Forbidden() bool { return apierrors.IsForbidden(e.Err) }

// Selectors the agent's informers use for ConfigMaps and Endpoints (pkg/agent): the
// plugin reads exactly what the agent reads, so its plans are the agent's.
var (
	stateConfigMapSelector  = labels.Set{api.LabelComponent: api.ComponentMuxState}.String()
	legacyEndpointsSelector = labels.Set{api.LabelManagedBy: api.AppName}.String()
)

// readLists does one List per kind, concurrently. Services and EndpointSlices are read
// cluster-wide because channels attach to a mux from any namespace.
func readLists(ctx context.Context, c kubernetes.Interface, keys api.Keys) (snapshot.Lists, error) {
	var (
		l    snapshot.Lists
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	run := func(resource string, list func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := list(); err != nil {
				mu.Lock()
				errs = append(errs, &ReadError{Resource: resource, Err: err})
				mu.Unlock()
			}
		}()
	}
	run("services", func() error {
		r, err := c.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err == nil {
			l.Services = r.Items
		}
		return err
	})
	run("endpointslices", func() error {
		r, err := c.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
		if err == nil {
			l.EndpointSlices = r.Items
		}
		return err
	})
	run("configmaps", func() error {
		r, err := c.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: stateConfigMapSelector})
		if err == nil {
			l.ConfigMaps = r.Items
		}
		return err
	})
	run("endpoints", func() error {
		r, err := c.CoreV1().Endpoints("").List(ctx, metav1.ListOptions{LabelSelector: legacyEndpointsSelector})
		if err == nil {
			l.Endpoints = r.Items
		}
		return err
	})
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	if len(errs) > 0 {
		return l, errs[0]
	}
	if !needsNamespaces(l.Services, keys) {
		return l, nil
	}
	return l, listNamespaces(ctx, c, &l)
}

// needsNamespaces reports whether some mux admits channels by a namespace
// selector: as the agent, the plugin reads no Namespace otherwise.
func needsNamespaces(services []corev1.Service, keys api.Keys) bool {
	for i := range services {
		if plan.UsesNamespaceSelector(&services[i], keys) {
			return true
		}
	}
	return false
}

// listNamespaces reads every Namespace into l, for the selector muxes' labels.
func listNamespaces(ctx context.Context, c kubernetes.Interface, l *snapshot.Lists) error {
	r, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return &ReadError{Resource: "namespaces", Err: err}
	}
	l.Namespaces, l.NamespacesListed = r.Items, true
	return nil
}

// loadCluster reads the cluster and plans every mux in scope.
func (g *Globals) loadCluster(ctx context.Context, namespace string) (*Cluster, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	l, err := readLists(ctx, c, g.Keys())
	if err != nil {
		return nil, err
	}
	return g.planLists(l, namespace)
}

// loadMuxes reads and plans the cluster for a command's scope (-n, -A) and keeps
// the muxes its [MUX] argument names: the start of every per-mux command.
func (g *Globals) loadMuxes(cmd *cobra.Command, args []string) (*Cluster, []MuxView, error) {
	cl, err := g.loadCluster(cmd.Context(), g.namespaceScope(cmd))
	if err != nil {
		return nil, nil, err
	}
	muxes, err := cl.selectMuxes(args)
	if err != nil {
		return nil, nil, err
	}
	return cl, muxes, nil
}

// planLists plans Lists as the agent would, for the muxes in namespace ("" = all).
func (g *Globals) planLists(l snapshot.Lists, namespace string) (*Cluster, error) {
	keys := g.Keys()
	r, err := snapshot.FromLists(keys, g.DefaultMuxNamespace, l)
	if err != nil {
		return nil, err
	}
	cl := &Cluster{Keys: keys, Lists: l, Reader: r, Opts: plan.Options{
		Keys: keys, DefaultMuxNamespace: g.DefaultMuxNamespace, Now: metav1.Now(),
	}}
	for _, mux := range r.Muxes() {
		if namespace != "" && mux.Namespace != namespace {
			continue
		}
		snap, err := r.Snapshot(mux)
		if err != nil {
			return nil, err
		}
		cl.Muxes = append(cl.Muxes, MuxView{Mux: mux, Snapshot: snap, Plan: plan.Compute(snap, cl.Opts)})
	}
	cl.Orphans = orphans(cl, namespace)
	return cl, nil
}

// orphans are the channels in namespace whose class does not parse or names no mux.
func orphans(cl *Cluster, namespace string) []OrphanView {
	var out []OrphanView
	for i := range cl.Lists.Services {
		svc := &cl.Lists.Services[i]
		if namespace != "" && svc.Namespace != namespace {
			continue
		}
		ref, isChannel, err := plan.ChannelMux(svc, cl.Keys, cl.Opts.DefaultMuxNamespace)
		if !isChannel && !plan.HasLeftovers(svc, cl.Keys) {
			continue
		}
		o := OrphanView{Service: svc, Detached: !isChannel}
		if isChannel && err == nil {
			if mux, _ := cl.Reader.Mux(ref); mux != nil {
				continue
			}
			o.Mux = ref.String()
		}
		o.Outcome, _ = plan.Unattached(svc, cl.Opts, false)
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Outcome.Channel.String() < out[j].Outcome.Channel.String() })
	return out
}

// selectMuxes keeps the muxes an argument names: "ns/name", or "name" in any
// namespace in scope. No argument keeps all; a name that matches nothing is an error.
func (cl *Cluster) selectMuxes(args []string) ([]MuxView, error) {
	if len(args) == 0 {
		return cl.Muxes, nil
	}
	want := args[0]
	var out []MuxView
	for _, m := range cl.Muxes {
		if m.Mux.Namespace+"/"+m.Mux.Name == want || (!strings.Contains(want, "/") && m.Mux.Name == want) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mux %q not found: no Service with %s: \"true\" by that name in scope (try -A)", want, cl.Keys.Multiplexer)
	}
	return out, nil
}

// muxKey is "ns/name" of a mux view.
func (m MuxView) key() string { return m.Mux.Namespace + "/" + m.Mux.Name }
