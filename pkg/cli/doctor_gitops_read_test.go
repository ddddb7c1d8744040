package cli

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/nowakeai/svcmux/pkg/doctor"
)

// gitopsAPI is an API server serving discovery and the given paths (JSON bodies,
// or a status code with a Status body); every other path is 404.
func gitopsAPI(t *testing.T, groups string, paths map[string]string, codes map[string]int) kubernetes.Interface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body, ok := paths[r.URL.Path]
		switch {
		case r.URL.Path == "/api":
			_, _ = w.Write([]byte(`{"kind":"APIVersions","versions":["v1"]}`))
		case r.URL.Path == "/apis" && groups == "":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is down","reason":"InternalError","code":500}`))
		case r.URL.Path == "/apis":
			_, _ = w.Write([]byte(`{"kind":"APIGroupList","apiVersion":"v1","groups":[` + groups + `]}`))
		case codes[r.URL.Path] != 0:
			w.WriteHeader(codes[r.URL.Path])
			_, _ = w.Write([]byte(body))
		case ok:
			_, _ = w.Write([]byte(body))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	return c
}

const (
	argoGroup = `{"name":"argoproj.io","versions":[{"groupVersion":"argoproj.io/v1alpha1","version":"v1alpha1"}],` +
		`"preferredVersion":{"groupVersion":"argoproj.io/v1alpha1","version":"v1alpha1"}}`
	fluxGroup = `{"name":"kustomize.toolkit.fluxcd.io","versions":[{"groupVersion":"kustomize.toolkit.fluxcd.io/v1","version":"v1"}],` +
		`"preferredVersion":{"groupVersion":"kustomize.toolkit.fluxcd.io/v1","version":"v1"}}`
	otherGroup = `{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}`
	argoPath   = "/apis/argoproj.io/v1alpha1/applications"
	fluxPath   = "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations"
	argoList   = `{"items":[{"metadata":{"namespace":"argocd","name":"edge"},"spec":{"syncPolicy":{"syncOptions":["ServerSideApply=true"]}},` +
		`"status":{"resources":[{"kind":"Service","namespace":"svc-mux","name":"mux"}]}}]}`
	fluxList = `{"items":[{"metadata":{"namespace":"flux-system","name":"edge"},"status":{"inventory":{"entries":[{"id":"svc-mux_mux__Service"}]}}}]}`
)

func TestDoctorReadsTheGitOpsObjectsOfTheAPIsTheClusterServes(t *testing.T) {
	argo := []doctor.ArgoApplication{{Namespace: "argocd", Name: "edge", SyncOptions: []string{"ServerSideApply=true"},
		Resources: []doctor.ArgoResource{{Kind: "Service", Namespace: "svc-mux", Name: "mux"}}}}
	flux := []doctor.FluxKustomization{{Namespace: "flux-system", Name: "edge", Inventory: []string{"svc-mux_mux__Service"}}}
	forbidden := `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,` +
		`"message":"kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User \"dev\" cannot list resource \"kustomizations\""}`
	tests := []struct {
		name       string
		groups     string
		paths      map[string]string
		codes      map[string]int
		wantGitOps doctor.GitOps
		wantFailed []doctor.ReadFailure
	}{
		{"Argo CD Applications and Flux Kustomizations, each from its group's preferred version",
			argoGroup + "," + otherGroup + "," + fluxGroup, map[string]string{argoPath: argoList, fluxPath: fluxList}, nil,
			doctor.GitOps{Applications: argo, Kustomizations: flux}, nil},
		{"with neither API served there is nothing to read", otherGroup, nil, nil, doctor.GitOps{}, nil},
		// DoRaw turns an error response into client-go's unstructured error, which
		// drops the Status message: the reason the API server gave is lost ("unknown").
		{"a Forbidden list becomes could not check, and the other tool is still read",
			argoGroup + "," + fluxGroup, map[string]string{argoPath: argoList, fluxPath: forbidden}, map[string]int{fluxPath: http.StatusForbidden},
			doctor.GitOps{Applications: argo},
			[]doctor.ReadFailure{{Resource: doctor.ResourceGitOps, Why: "could not list kustomizations (kustomize.toolkit.fluxcd.io/v1): unknown"}}},
		{"a list that is not JSON is could not decode", argoGroup, map[string]string{argoPath: `[1,`}, nil,
			doctor.GitOps{}, []doctor.ReadFailure{{Resource: doctor.ResourceGitOps,
				Why: "could not decode Argo CD Applications: unexpected end of JSON input"}}},
		{"a Kustomization list cut short is could not decode", fluxGroup, map[string]string{fluxPath: `{"items":[`}, nil,
			doctor.GitOps{}, []doctor.ReadFailure{{Resource: doctor.ResourceGitOps,
				Why: "could not decode Flux Kustomizations: unexpected end of JSON input"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in doctor.Input
			readGitOps(t.Context(), gitopsAPI(t, tt.groups, tt.paths, tt.codes), &in)
			assert.Equal(t, tt.wantGitOps, in.GitOps)
			assert.Equal(t, tt.wantFailed, in.Failed)
		})
	}
}

func TestDoctorThatCannotDiscoverAPIGroupsSaysSo(t *testing.T) {
	var in doctor.Input
	readGitOps(t.Context(), gitopsAPI(t, "", nil, nil), &in)
	assert.Equal(t, doctor.GitOps{}, in.GitOps)
	assert.Equal(t, []doctor.ReadFailure{{Resource: doctor.ResourceGitOps, Why: `could not discover API groups: an error on the server ("unknown") has prevented the request from succeeding`}}, in.Failed)
}

func TestDoctorWithAClientWithoutRESTClientCannotListGitOpsObjects(t *testing.T) {
	c := fake.NewClientset()
	c.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{GroupVersion: "argoproj.io/v1alpha1"}}
	var in doctor.Input
	readGitOps(t.Context(), c, &in)
	assert.Equal(t, []doctor.ReadFailure{{Resource: doctor.ResourceGitOps, Why: "could not list applications.argoproj.io/v1alpha1: no REST client"}}, in.Failed)
}
