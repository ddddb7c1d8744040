package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestGitOpsPrintsArgoCDIgnoreRulesForEachMux(t *testing.T) {
	objs := []runtime.Object{fxMux("svc-mux", "mux", nil)}
	r := runPlugin(t, objs, "gitops")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, `# argocd ignore rules for 1 mux(es), prefix svc-mux.nowake.ai (kubectl svcmux gitops)
spec:
  ignoreDifferences:
  - group: ""
    jsonPointers:
    - /spec/ports
    - /metadata/annotations/svc-mux.nowake.ai~1channels
    - /metadata/annotations/svc-mux.nowake.ai~1topology
    - /metadata/annotations/svc-mux.nowake.ai~1summary
    - /metadata/annotations/svc-mux.nowake.ai~1aggregated-external-dns
    - /metadata/annotations/external-dns.alpha.kubernetes.io~1hostname
    - /metadata/annotations/external-dns.alpha.kubernetes.io~1cloudflare-proxied
    kind: Service
    name: mux
    namespace: svc-mux
  - group: ""
    jsonPointers:
    - /metadata/annotations/svc-mux.nowake.ai~1ports
    - /status
    kind: Service
    managedFieldsManagers:
    - svcmux
  syncPolicy:
    syncOptions:
    - RespectIgnoreDifferences=true
`, r.Out)
}

func TestGitOpsUsesThePrefixInForceForFlux(t *testing.T) {
	mux := fxMux("svc-mux", "mux", nil)
	mux.Annotations = map[string]string{"example.com/multiplexer": "true"}
	r := runPlugin(t, []runtime.Object{mux}, "gitops", "--tool", "flux", "--api-prefix", "example.com")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, `# flux ignore rules for 1 mux(es), prefix example.com (kubectl svcmux gitops)
helmRelease:
  spec:
    driftDetection:
      ignore:
      - paths:
        - /spec/ports
        - /metadata/annotations/example.com~1channels
        - /metadata/annotations/example.com~1topology
        - /metadata/annotations/example.com~1summary
        - /metadata/annotations/example.com~1aggregated-external-dns
        - /metadata/annotations/external-dns.alpha.kubernetes.io~1hostname
        - /metadata/annotations/external-dns.alpha.kubernetes.io~1cloudflare-proxied
        target:
          kind: Service
          name: mux
          namespace: svc-mux
      - paths:
        - /metadata/annotations/example.com~1ports
        target:
          kind: Service
      mode: enabled
kustomizationMuxAnnotations:
  kustomize.toolkit.fluxcd.io/ssa: IfNotPresent
`, r.Out)
}

func TestGitOpsExitCodes(t *testing.T) {
	objs := []runtime.Object{fxMux("svc-mux", "mux", nil)}
	assert.Equal(t, ExitClean, runPlugin(t, objs, "gitops", "--tool", "argocd").Code)
	assert.Equal(t, ExitCannotRun, runPlugin(t, objs, "gitops", "--tool", "jenkins").Code)
	assert.Equal(t, ExitCannotRun, runPlugin(t, objs, "gitops", "nope").Code)
}
