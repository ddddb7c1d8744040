package cli

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/manifest"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// checkFiles are the objects of the manifests that matter to the planner: core/v1
// Services (muxes, channels) and ConfigMaps, each with where it was read.
type checkFiles struct {
	Services   []fileService
	ConfigMaps []fileConfigMap
	// Namespaces give the labels a mux's namespace selector reads.
	Namespaces []*corev1.Namespace
	// Ignored counts the objects of other kinds by kind, and Services that are
	// neither a mux nor a channel under "Service (not a mux or channel)".
	Ignored map[string]int
}

type fileService struct {
	Svc *corev1.Service
	At  manifest.Object
	// New is true when no live object has its namespace/name.
	New bool
}

type fileConfigMap struct {
	CM *corev1.ConfigMap
	At manifest.Object
}

// ignoredNonChannel is how Services that are neither a mux nor a channel are counted.
const ignoredNonChannel = "Service (not a mux or channel)"

// sortFiles decodes the objects the planner reads, puts those without a namespace
// in namespace, and refuses the same object defined twice (which one would win
// depends on the order a tool applies them: not something to predict).
func sortFiles(objs []manifest.Object, namespace string, keys api.Keys, defaultMuxNamespace string) (checkFiles, error) {
	f := checkFiles{Ignored: map[string]int{}}
	seen := map[string]manifest.Object{}
	for _, o := range objs {
		if o.APIVersion != "v1" || (o.Kind != "Service" && o.Kind != "ConfigMap" && o.Kind != "Namespace") {
			f.Ignored[o.Kind]++
			continue
		}
		if o.Name == "" {
			return f, &manifest.Error{File: o.File, Line: o.Line, Err: fmt.Errorf("%s has no metadata.name", o.Kind)}
		}
		if o.Kind == "Namespace" {
			o.Namespace = "" // cluster-scoped, whatever the file says
		} else if o.Namespace == "" {
			o.Namespace = namespace
		}
		id := o.Kind + " " + o.Namespace + "/" + o.Name
		if first, dup := seen[id]; dup {
			return f, &manifest.Error{File: o.File, Line: o.Line, Err: fmt.Errorf("%s is also defined at %s", id, first.Where())}
		}
		seen[id] = o
		if o.Kind == "Namespace" {
			ns := &corev1.Namespace{}
			if err := o.Decode(ns); err != nil {
				return f, err
			}
			f.Namespaces = append(f.Namespaces, ns)
			continue
		}
		if o.Kind == "ConfigMap" {
			cm := &corev1.ConfigMap{}
			if err := o.Decode(cm); err != nil {
				return f, err
			}
			cm.Namespace = o.Namespace
			f.ConfigMaps = append(f.ConfigMaps, fileConfigMap{CM: cm, At: o})
			continue
		}
		svc := &corev1.Service{}
		if err := o.Decode(svc); err != nil {
			return f, err
		}
		svc.Namespace = o.Namespace
		if _, isChannel, _ := plan.ChannelMux(svc, keys, defaultMuxNamespace); !isChannel && !plan.IsMux(svc, keys) {
			f.Ignored[ignoredNonChannel]++
			continue
		}
		f.Services = append(f.Services, fileService{Svc: svc, At: o})
	}
	return f, nil
}

// overlay puts the files' objects over the live lists: a file object replaces the
// live object of the same namespace/name, as applying it would. Applying a manifest
// leaves what the agent writes (SPEC §5) in place — it is not in the manifest, or a
// GitOps tool is told to ignore it — so those fields are carried over from the live
// object: the channel's ports annotation and status, the mux's spec.ports, status
// and the agent's annotations. The live objects are not modified.
func overlay(live snapshot.Lists, f *checkFiles, keys api.Keys) snapshot.Lists {
	out := snapshot.Lists{EndpointSlices: live.EndpointSlices, Endpoints: live.Endpoints}
	liveSvc := map[string]*corev1.Service{}
	for i := range live.Services {
		s := &live.Services[i]
		liveSvc[s.Namespace+"/"+s.Name] = s
	}
	replaced := map[string]bool{}
	for i := range f.Services {
		fs := &f.Services[i]
		key := fs.Svc.Namespace + "/" + fs.Svc.Name
		replaced[key] = true
		svc := fs.Svc.DeepCopy()
		old, ok := liveSvc[key]
		fs.New = !ok
		if ok {
			carryAgentFields(svc, old, keys)
		} else {
			svc.ResourceVersion, svc.UID, svc.ManagedFields = "", "", nil
			svc.Status = corev1.ServiceStatus{} // the API server ignores status on create
		}
		out.Services = append(out.Services, *svc)
	}
	for _, s := range live.Services {
		if !replaced[s.Namespace+"/"+s.Name] {
			out.Services = append(out.Services, s)
		}
	}
	replaced = map[string]bool{}
	for _, fc := range f.ConfigMaps {
		replaced[fc.CM.Namespace+"/"+fc.CM.Name] = true
		// The agent watches only labelled state ConfigMaps: an unlabelled one in the
		// files is invisible to it, and hides the live one it replaces.
		if fc.CM.Labels[api.LabelComponent] == api.ComponentMuxState {
			out.ConfigMaps = append(out.ConfigMaps, *fc.CM.DeepCopy())
		}
	}
	for _, cm := range live.ConfigMaps {
		if !replaced[cm.Namespace+"/"+cm.Name] {
			out.ConfigMaps = append(out.ConfigMaps, cm)
		}
	}
	sort.Slice(out.Services, func(i, j int) bool { return svcLess(&out.Services[i], &out.Services[j]) })
	out.Namespaces, out.NamespacesListed = overlayNamespaces(live.Namespaces, f.Namespaces), live.NamespacesListed || len(f.Namespaces) > 0
	return out
}

// overlayNamespaces is the live Namespaces with the files' ones in their place
// (by name) or added: their labels are what a selector mux reads.
func overlayNamespaces(live []corev1.Namespace, files []*corev1.Namespace) []corev1.Namespace {
	byName := map[string]bool{}
	out := make([]corev1.Namespace, 0, len(live)+len(files))
	for _, ns := range files {
		byName[ns.Name] = true
		out = append(out, *ns.DeepCopy())
	}
	for _, ns := range live {
		if !byName[ns.Name] {
			out = append(out, ns)
		}
	}
	return out
}

func svcLess(a, b *corev1.Service) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// carryAgentFields copies onto the file object what stays of the live one when the
// file is applied: identity, status, and every field the agent owns that the file
// does not set itself.
func carryAgentFields(svc, live *corev1.Service, keys api.Keys) {
	svc.UID, svc.ResourceVersion, svc.CreationTimestamp = live.UID, live.ResourceVersion, live.CreationTimestamp
	svc.Generation, svc.Finalizers, svc.ManagedFields = live.Generation, live.Finalizers, nil
	svc.Status = live.Status
	owned := []string{keys.Ports, keys.Channels, keys.Topology, keys.Summary, keys.AggregatedExternalDNS}
	if plan.IsMux(live, keys) {
		svc.Spec.Ports = live.Spec.Ports
		for _, k := range strings.Split(live.Annotations[keys.AggregatedExternalDNS], ",") {
			if k = strings.TrimSpace(k); k != "" {
				owned = append(owned, k)
			}
		}
	}
	for _, k := range owned {
		v, ok := live.Annotations[k]
		if _, set := svc.Annotations[k]; !ok || set {
			continue
		}
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations[k] = v
	}
}
