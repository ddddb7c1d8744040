package doctor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const argoList = `{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationList","items":[
 {"metadata":{"namespace":"argocd","name":"infra"},
  "spec":{"ignoreDifferences":[{"group":"","kind":"Service","name":"mux","namespace":"svc-mux","jsonPointers":["/spec/ports"]}],
          "syncPolicy":{"syncOptions":["CreateNamespace=true"]}},
  "status":{"resources":[{"group":"","kind":"Service","namespace":"svc-mux","name":"mux","version":"v1"}]}}]}`

const fluxList = `{"items":[{"metadata":{"namespace":"flux-system","name":"infra"},
 "status":{"inventory":{"entries":[{"id":"svc-mux_mux__Service","v":"v1"},{"id":"app_api__Service","v":"v1"}]}}}]}`

func TestParseGitOpsLists(t *testing.T) {
	apps, err := ParseArgoApplications([]byte(argoList))
	require.NoError(t, err)
	assert.Equal(t, []ArgoApplication{{Namespace: "argocd", Name: "infra",
		Resources:         []ArgoResource{{Kind: "Service", Namespace: "svc-mux", Name: "mux"}},
		IgnoreDifferences: []ArgoIgnore{{Kind: "Service", Name: "mux", Namespace: "svc-mux", JSONPointers: []string{"/spec/ports"}}},
		SyncOptions:       []string{"CreateNamespace=true"}}}, apps)
	ks, err := ParseFluxKustomizations([]byte(fluxList))
	require.NoError(t, err)
	assert.Equal(t, []FluxKustomization{{Namespace: "flux-system", Name: "infra",
		Inventory: []string{"svc-mux_mux__Service", "app_api__Service"}}}, ks)
	_, err = ParseArgoApplications([]byte("{"))
	assert.ErrorContains(t, err, "decode Argo CD Applications")
}

func TestGitOpsIgnoreRules(t *testing.T) {
	manages := []ArgoResource{{Kind: "Service", Namespace: "svc-mux", Name: "mux"}}
	ports := []ArgoIgnore{{Kind: "Service", Name: "mux", JSONPointers: []string{"/spec/ports"}}}
	respect := []string{"RespectIgnoreDifferences=true"}
	tests := []struct {
		name string
		app  ArgoApplication
		want []string
	}{
		{"an app that does not manage the mux is not judged", ArgoApplication{Name: "x"}, []string{}},
		{"an app managing the mux without ignoring its ports", ArgoApplication{Namespace: "argocd", Name: "infra", Resources: manages},
			[]string{"Argo CD Application argocd/infra manages mux svc-mux/mux without ignoreDifferences for /spec/ports: every sync puts the placeholder back"}},
		{"an app ignoring ports for another Service name", ArgoApplication{Namespace: "argocd", Name: "infra", Resources: manages,
			IgnoreDifferences: []ArgoIgnore{{Kind: "Service", Name: "other", JSONPointers: []string{"/spec/ports"}}}, SyncOptions: respect},
			[]string{"Argo CD Application argocd/infra manages mux svc-mux/mux without ignoreDifferences for /spec/ports: every sync puts the placeholder back"}},
		{"an app ignoring ports but not respecting it", ArgoApplication{Namespace: "argocd", Name: "infra", Resources: manages, IgnoreDifferences: ports},
			[]string{"Argo CD Application argocd/infra ignores mux svc-mux/mux /spec/ports but lacks syncOptions RespectIgnoreDifferences=true: a sync still applies them"}},
		{"an app ignoring and respecting is clean", ArgoApplication{Resources: manages, IgnoreDifferences: ports, SyncOptions: respect}, []string{}},
		{"ignoring by the agent's field manager counts", ArgoApplication{Resources: manages, SyncOptions: respect,
			IgnoreDifferences: []ArgoIgnore{{Kind: "Service", ManagedFieldsManagers: []string{"svcmux"}}}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput(planned(testMux("mux"), nil))
			in.GitOps.Applications = []ArgoApplication{tt.app}
			msgs := []string{}
			for _, f := range only(t, in, CheckGitOps).Findings {
				msgs = append(msgs, f.Message)
				assert.Equal(t, "kubectl svcmux gitops svc-mux/mux --tool argocd", f.Fix)
			}
			assert.Equal(t, tt.want, msgs)
		})
	}

	t.Run("a Flux Kustomization managing a mux without ssa IfNotPresent", func(t *testing.T) {
		ks := []FluxKustomization{{Namespace: "flux-system", Name: "infra", Inventory: []string{"svc-mux_mux__Service"}}}
		in := baseInput(planned(testMux("mux"), nil))
		in.GitOps.Kustomizations = ks
		got := only(t, in, CheckGitOps).Findings
		if assert.Len(t, got, 1) {
			assert.Equal(t, "SVCMUX503", got[0].Code)
			assert.Equal(t, "kubectl svcmux gitops svc-mux/mux --tool flux", got[0].Fix)
		}
		in = baseInput(planned(testMux("mux", annotate(FluxSSAAnnotation, "IfNotPresent")), nil))
		in.GitOps.Kustomizations = ks
		assert.Empty(t, only(t, in, CheckGitOps).Findings, "IfNotPresent leaves spec.ports to the agent")
	})
}
