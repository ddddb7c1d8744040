package apply

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/state"
)

// replacedSnapshot is apiSnapshot converged, then its ports replaced wholesale by
// the placeholder (a GitOps PUT), with api's mux port remembered at NodePort 31000.
func replacedSnapshot(t *testing.T) (plan.Snapshot, string) {
	s := converged(t, apiSnapshot())
	name := muxPortName("app/api", "http")
	s.StateConfigMap.Data[api.NodePortsKey] = state.EncodeNodePorts(state.NodePorts{{Name: name, Port: 8080, Protocol: "TCP", NodePort: 31000}})
	s.Mux.Spec.Ports = []corev1.ServicePort{{Name: api.PlaceholderPortName, Port: api.PlaceholderPort, Protocol: "TCP", NodePort: 30101}}
	return s, name
}

func TestARestoredMuxPortIsSentWithItsRememberedNodePort(t *testing.T) {
	s, name := replacedSnapshot(t)
	p := compute(t, s)
	ws := only(diff(t, p, s), KindMux)
	require.Len(t, ws, 1)
	assert.Equal(t, map[string]any{"metadata": map[string]any{},
		"spec": map[string]any{"ports": []any{map[string]any{"name": name, "port": 8080.0, "protocol": "TCP", "nodePort": 31000.0}}}}, body(t, ws[0]))
	require.NotNil(t, ws[0].Fallback)
	assert.Empty(t, only(diff(t, p, s), KindState), "the memory did not change: no state write")
}

// replacedTwoPorts is replacedSnapshot with a second channel, app/web (http:8081),
// remembered at NodePort 31001.
func replacedTwoPorts(t *testing.T) (plan.Snapshot, string, string) {
	s := apiSnapshot()
	s.Channels = append(s.Channels, newChannel("app/web", []corev1.ServicePort{tcp("http", 8081)}))
	s = converged(t, s)
	api1, web := muxPortName("app/api", "http"), muxPortName("app/web", "http")
	s.StateConfigMap.Data[api.NodePortsKey] = state.EncodeNodePorts(state.NodePorts{
		{Name: api1, Port: 8080, Protocol: "TCP", NodePort: 31000}, {Name: web, Port: 8081, Protocol: "TCP", NodePort: 31001}})
	s.Mux.Spec.Ports = []corev1.ServicePort{{Name: api.PlaceholderPortName, Port: api.PlaceholderPort, Protocol: "TCP", NodePort: 30101}}
	return s, api1, web
}

func TestARefusedRestoreIsRetriedWithoutTheNodePortsTheAPIServerNames(t *testing.T) {
	s, apiName, webName := replacedTwoPorts(t)
	p := compute(t, s)
	ws := only(diff(t, p, s), KindMux)
	require.Len(t, ws, 1)
	require.NotNil(t, ws[0].Fallback)
	port := func(name string, n int32, nodePort float64) map[string]any {
		out := map[string]any{"name": name, "port": float64(n), "protocol": "TCP"}
		if nodePort != 0 {
			out["nodePort"] = nodePort
		}
		return out
	}
	const tail = "; it assigns new ones, and a load balancer that routes to NodePorts reprograms for these ports"
	for _, tc := range []struct {
		name  string
		err   error
		ports []any
		msg   string
	}{
		{
			name: "the port the error names loses its NodePort, the other keeps its own",
			err: apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "mux", field.ErrorList{
				field.Invalid(field.NewPath("spec", "ports").Index(1).Child("nodePort"), 31001, "provided port is already allocated")}),
			ports: []any{port(apiName, 8080, 31000), port(webName, 8081, 0)},
			msg: "mux svc-mux/mux: the API server refused the remembered NodePort(s) " + webName + "=31001 " +
				"(spec.ports[1].nodePort: Invalid value: 31001: provided port is already allocated)" + tail,
		},
		{
			name:  "an error that names no port gives up every remembered NodePort",
			err:   apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "mux", nil),
			ports: []any{port(apiName, 8080, 0), port(webName, 8081, 0)},
			msg: "mux svc-mux/mux: the API server refused the remembered NodePort(s) " + apiName + "=31000, " + webName + "=31001 " +
				"(Service \"mux\" is invalid)" + tail,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, event := ws[0].Fallback.retry(tc.err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(patch, &got))
			assert.Equal(t, map[string]any{"metadata": map[string]any{}, "spec": map[string]any{"ports": tc.ports}}, got)
			assert.Equal(t, plan.Event{Object: p.Mux, Type: api.EventWarning, Reason: api.ReasonNodePortReassigned, Message: tc.msg}, event)
		})
	}
}

func TestAMuxWriteWithoutRememberedNodePortsHasNoFallback(t *testing.T) {
	s := apiSnapshot()
	ws := only(diff(t, compute(t, s), s), KindMux)
	require.Len(t, ws, 1)
	assert.Nil(t, ws[0].Fallback)
}

func TestOnlyTheChangedKeyOfTheStateConfigMapIsWritten(t *testing.T) {
	s := converged(t, apiSnapshot())
	name := muxPortName("app/api", "http")
	s.Mux.Spec.Ports[0].NodePort = 32000 // the API server gave the port a NodePort
	ws := only(diff(t, compute(t, s), s), KindState)
	require.Len(t, ws, 1)
	assert.Equal(t, []string{"data[nodeports.json]"}, ws[0].Fields)
	assert.Equal(t, map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{testKeys.Mux: "svc-mux/mux"}, "resourceVersion": s.StateConfigMap.ResourceVersion},
		"data":     map[string]any{"nodeports.json": state.EncodeNodePorts(state.NodePorts{{Name: name, Port: 8080, Protocol: "TCP", NodePort: 32000}})},
	}, body(t, ws[0]))

	s.StateConfigMap.Data[api.NodePortsKey] = state.EncodeNodePorts(state.NodePorts{{Name: name, Port: 8080, Protocol: "TCP", NodePort: 32000}})
	assert.Empty(t, only(diff(t, compute(t, s), s), KindState), "an idle mux whose memory matches writes no state")
}

func TestTheExecutorFallsBackOnceWhenTheAPIServerRefusesARememberedNodePort(t *testing.T) {
	refused := apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "mux", field.ErrorList{
		field.Invalid(field.NewPath("spec", "ports").Index(0).Child("nodePort"), 31000, "provided port is already allocated")})
	for _, tc := range []struct {
		name    string
		errs    []error // answers to the mux patches, in order; nil: accepted
		patches int
		events  int
		err     string
	}{
		{name: "a refused NodePort is sent again without it and the Event is returned", errs: []error{refused, nil}, patches: 2, events: 1},
		{name: "an accepted write is sent once", errs: []error{nil}, patches: 1},
		{name: "a refused fallback is the error; no second retry", errs: []error{refused, refused}, patches: 2,
			err: `patch services svc-mux/mux [spec.ports]: Service "mux" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated`},
		{name: "another error is not retried", errs: []error{apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "mux", nil)}, patches: 1,
			err: `patch services svc-mux/mux [spec.ports]: Operation cannot be fulfilled on services "mux": <nil>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := replacedSnapshot(t)
			ws := only(diff(t, compute(t, s), s), KindMux)
			require.Len(t, ws, 1)
			c := fake.NewClientset(s.Mux.DeepCopy())
			var sent [][]byte
			c.PrependReactor("patch", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
				sent = append(sent, a.(k8stesting.PatchAction).GetPatch())
				if err := tc.errs[len(sent)-1]; err != nil {
					return true, nil, err
				}
				return false, nil, nil
			})
			res, err := (&Executor{Client: c}).Run(context.Background(), ws)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, 1, res.Writes[KindMux])
			}
			require.Len(t, sent, tc.patches)
			assert.Equal(t, string(ws[0].Patch), string(sent[0]))
			if tc.patches == 2 {
				retry, _ := ws[0].Fallback.retry(refused)
				assert.Equal(t, string(retry), string(sent[1]))
			}
			assert.Len(t, res.Events, tc.events)
		})
	}
}
