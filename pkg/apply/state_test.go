package apply

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestTheStateConfigMap(t *testing.T) {
	apiClaim := staticClaim("app/api", "http", 8080)
	tests := []struct {
		name  string
		live  func() *corev1.ConfigMap
		patch bool
	}{
		{"an unchanged document is not written", func() *corev1.ConfigMap { return stateCM(stateDoc(apiClaim)) }, false},
		{"the same content formatted differently is not written", func() *corev1.ConfigMap {
			return stateCM(`{"schemaVersion":1,"mux":{"namespace":"svc-mux","name":"mux"},"allocations":[],"portClaims":[` +
				`{"service":"api","namespace":"app","portName":"http","protocol":"TCP","channelPort":8080,"muxPort":8080,"port":8080,"source":"static"}]}`)
		}, false},
		{"a stale claim of a channel that left is pruned with a patch", func() *corev1.ConfigMap {
			return stateCM(stateDoc(apiClaim, staticClaim("app/gone", "http", 9090)))
		}, true},
		{"a document in the older format is migrated with a patch", func() *corev1.ConfigMap {
			return stateCM(`{"allocations":[]}`)
		}, true},
		{"an invalid document is never written", func() *corev1.ConfigMap { return stateCM(`{not json`) }, false},
		{"a ConfigMap annotated for another mux is never written", func() *corev1.ConfigMap {
			cm := stateCM(stateDoc())
			cm.Annotations[testKeys.Mux] = "svc-mux/other"
			return cm
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := converged(t, apiSnapshot())
			s.StateConfigMap = tt.live()
			ws := only(diff(t, compute(t, s), s), KindState)
			if !tt.patch {
				assert.Empty(t, shapes(ws))
				return
			}
			assert.Equal(t, []shape{{StageState, KindState, VerbPatch, "configmaps", "svc-mux", "mux-port-allocations", "", types.MergePatchType}}, shapes(ws))
			assert.Equal(t, []string{"data[allocations.json]"}, ws[0].Fields)
			assert.Equal(t, map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{testKeys.Mux: "svc-mux/mux"}, "resourceVersion": stateRV},
				"data":     map[string]any{"allocations.json": stateDoc(apiClaim)},
			}, body(t, ws[0]))
		})
	}

	t.Run("an invalid port range keeps the state as it is", func(t *testing.T) {
		s := converged(t, apiSnapshot())
		s.StateConfigMap = stateCM(stateDoc(apiClaim, staticClaim("app/gone", "http", 9090)))
		s.Mux.Annotations[testKeys.PortRange] = "9-1"
		assert.Empty(t, shapes(only(diff(t, compute(t, s), s), KindState)))
	})

	t.Run("an allocation-configmap override names the ConfigMap created", func(t *testing.T) {
		s := apiSnapshot()
		s.Mux.Annotations[testKeys.AllocationConfigMap] = "custom-state"
		ws := only(diff(t, compute(t, s), s), KindState)
		require.Len(t, ws, 1)
		assert.Equal(t, VerbCreate, ws[0].Verb)
		assert.Equal(t, "custom-state", ws[0].Name)
		assert.Equal(t, "custom-state", ws[0].Object.(*corev1.ConfigMap).Name)
	})
}
