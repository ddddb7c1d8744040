package doctor

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nowakeai/svcmux/pkg/api"
)

// GitOps are the objects of the GitOps tools whose APIs the cluster serves.
type GitOps struct {
	Applications   []ArgoApplication
	Kustomizations []FluxKustomization
}

// ArgoApplication is what doctor reads of an Argo CD Application.
type ArgoApplication struct {
	Namespace, Name   string
	Resources         []ArgoResource
	IgnoreDifferences []ArgoIgnore
	SyncOptions       []string
}

// ArgoResource is one entry of an Application's status.resources.
type ArgoResource struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ArgoIgnore is one spec.ignoreDifferences entry.
type ArgoIgnore struct {
	Group                 string   `json:"group"`
	Kind                  string   `json:"kind"`
	Namespace             string   `json:"namespace"`
	Name                  string   `json:"name"`
	JSONPointers          []string `json:"jsonPointers"`
	JQPathExpressions     []string `json:"jqPathExpressions"`
	ManagedFieldsManagers []string `json:"managedFieldsManagers"`
}

// FluxKustomization is what doctor reads of a Flux Kustomization: its inventory ids
// ("<namespace>_<name>_<group>_<kind>").
type FluxKustomization struct {
	Namespace, Name string
	Inventory       []string
}

// FluxSSAAnnotation set to IfNotPresent makes Flux create an object once and leave it.
const FluxSSAAnnotation = "kustomize.toolkit.fluxcd.io/ssa"

// ParseArgoApplications reads an ApplicationList as the API server returns it.
func ParseArgoApplications(raw []byte) ([]ArgoApplication, error) {
	var list struct {
		Items []struct {
			Metadata struct{ Namespace, Name string } `json:"metadata"`
			Spec     struct {
				IgnoreDifferences []ArgoIgnore `json:"ignoreDifferences"`
				SyncPolicy        struct {
					SyncOptions []string `json:"syncOptions"`
				} `json:"syncPolicy"`
			} `json:"spec"`
			Status struct {
				Resources []ArgoResource `json:"resources"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decode Argo CD Applications: %w", err)
	}
	out := make([]ArgoApplication, 0, len(list.Items))
	for _, it := range list.Items {
		out = append(out, ArgoApplication{Namespace: it.Metadata.Namespace, Name: it.Metadata.Name,
			Resources: it.Status.Resources, IgnoreDifferences: it.Spec.IgnoreDifferences,
			SyncOptions: it.Spec.SyncPolicy.SyncOptions})
	}
	return out, nil
}

// ParseFluxKustomizations reads a KustomizationList as the API server returns it.
func ParseFluxKustomizations(raw []byte) ([]FluxKustomization, error) {
	var list struct {
		Items []struct {
			Metadata struct{ Namespace, Name string } `json:"metadata"`
			Status   struct {
				Inventory struct {
					Entries []struct {
						ID string `json:"id"`
					} `json:"entries"`
				} `json:"inventory"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decode Flux Kustomizations: %w", err)
	}
	out := make([]FluxKustomization, 0, len(list.Items))
	for _, it := range list.Items {
		k := FluxKustomization{Namespace: it.Metadata.Namespace, Name: it.Metadata.Name}
		for _, e := range it.Status.Inventory.Entries {
			k.Inventory = append(k.Inventory, e.ID)
		}
		out = append(out, k)
	}
	return out, nil
}

// checkGitOps finds GitOps objects that manage a mux without leaving its spec.ports
// to the agent (docs/gitops.md).
func checkGitOps(in *Input, r *reporter) {
	for i := range in.Muxes {
		m := &in.Muxes[i]
		mux := m.Snapshot.Mux
		obj := serviceObject(mux.Namespace, mux.Name)
		for _, app := range in.GitOps.Applications {
			if !app.manages(mux.Namespace, mux.Name) {
				continue
			}
			args := map[string]string{"app": app.Namespace + "/" + app.Name, "mux": muxRef(m)}
			switch {
			case !app.ignoresPorts(mux.Namespace, mux.Name):
				r.add("SVCMUX501", obj, args)
			case !hasOption(app.SyncOptions, "RespectIgnoreDifferences=true"):
				r.add("SVCMUX502", obj, args)
			}
		}
		id := mux.Namespace + "_" + mux.Name + "__Service"
		for _, k := range in.GitOps.Kustomizations {
			if contains(k.Inventory, id) && mux.Annotations[FluxSSAAnnotation] != "IfNotPresent" {
				r.add("SVCMUX503", obj, map[string]string{"app": k.Namespace + "/" + k.Name, "mux": muxRef(m)})
			}
		}
	}
}

func (a ArgoApplication) manages(namespace, name string) bool {
	for _, res := range a.Resources {
		if res.Group == "" && res.Kind == "Service" && res.Namespace == namespace && res.Name == name {
			return true
		}
	}
	return false
}

// ignoresPorts: an entry for core Services that matches the mux (empty name or
// namespace match all) and ignores /spec/ports by pointer, jq path, or by the
// agent's field manager.
func (a ArgoApplication) ignoresPorts(namespace, name string) bool {
	for _, ig := range a.IgnoreDifferences {
		if ig.Group != "" || ig.Kind != "Service" || (ig.Name != "" && ig.Name != name) ||
			(ig.Namespace != "" && ig.Namespace != namespace) {
			continue
		}
		if contains(ig.JSONPointers, "/spec/ports") || contains(ig.JQPathExpressions, ".spec.ports") ||
			contains(ig.ManagedFieldsManagers, api.FieldManager) {
			return true
		}
	}
	return false
}

func hasOption(opts []string, want string) bool {
	for _, o := range opts {
		if strings.EqualFold(strings.ReplaceAll(o, " ", ""), want) {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
