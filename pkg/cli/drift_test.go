package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/apply"
)

// driftAt is 2026-12-01 10:00 plus n minutes: t1 the agent's pass, later someone else's.
func driftAt(n int) *metav1.Time {
	t := metav1.Date(2026, 12, 1, 10, n, 0, 0, metav1.Now().UTC().Location())
	return &t
}

func driftEntry(manager, subresource string, n int, fieldsV1 string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: subresource,
		APIVersion: "v1", Time: driftAt(n), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fieldsV1)}}
}

// driftAnnotationFields owns the annotation keys.
func driftAnnotationFields(keys ...string) string {
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q:{}", "f:"+k)
	}
	return `{"f:metadata":{"f:annotations":{` + strings.Join(parts, ",") + `}}}`
}

// driftPortsFields owns mux port elements.
func driftPortsFields(ps ...corev1.ServicePort) string {
	parts := make([]string, len(ps))
	for i, sp := range ps {
		parts[i] = fmt.Sprintf(`"k:{\"port\":%d,\"protocol\":\"%s\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{}}`, sp.Port, sp.Protocol)
	}
	return `{"f:spec":{"f:ports":{` + strings.Join(parts, ",") + `}}}`
}

// driftWorld is svc-mux/mux (range 20000-20009, ingress 203.0.113.10) with
// app/api (http 8080) and one ready backend, converged by the agent's own code
// (plan → apply.Diff → apply.Executor on a fake clientset), then given the
// managedFields the API server records for the agent's writes (the fake records
// none). The objects come back in List order: mux, channel, slices, state.
func driftWorld(t *testing.T, extra ...runtime.Object) []runtime.Object {
	t.Helper()
	ctx := context.Background()
	slice := fxSlice("app", "api", []string{"10.0.0.1"})
	slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)}}
	objs := append([]runtime.Object{
		fxIngress(fxMux("svc-mux", "mux", map[string]string{"port-range": "20000-20009"}, fxTCP("placeholder", 101)), "203.0.113.10"),
		fxChannel("app", "api", "mux.svc-mux", nil, fxTCP("http", 8080)),
		slice,
	}, extra...)
	c := fake.NewClientset(objs...)
	l, err := readLists(ctx, c, api.NewKeys(""))
	require.NoError(t, err)
	cl, err := (&Globals{APIPrefix: api.DefaultPrefix, DefaultMuxNamespace: DefaultMuxNamespace}).planLists(l, "")
	require.NoError(t, err)
	for _, m := range cl.Muxes {
		_, err := (&apply.Executor{Client: c, Workers: 1}).Run(ctx, apply.Diff(m.Plan, m.Snapshot))
		require.NoError(t, err)
	}
	l, err = readLists(ctx, c, api.NewKeys(""))
	require.NoError(t, err)
	var out []runtime.Object
	for i := range l.Services {
		svc := l.Services[i].DeepCopy()
		switch svc.Name {
		case "mux":
			var keys []string
			for k := range svc.Annotations {
				if k != fxPrefix+"multiplexer" && k != fxPrefix+"port-range" {
					keys = append(keys, k)
				}
			}
			ann := driftAnnotationFields(keys...)
			svc.ManagedFields = []metav1.ManagedFieldsEntry{
				driftEntry(api.FieldManager, "", 1, ann[:len(ann)-1]+","+driftPortsFields(svc.Spec.Ports...)[1:]),
			}
		case "api":
			svc.ManagedFields = []metav1.ManagedFieldsEntry{
				driftEntry(api.FieldManager, "", 1, driftAnnotationFields(fxPrefix+"ports")),
				driftEntry(api.FieldManager, "status", 1, `{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"svc-mux.nowake.ai/Accepted\"}":{".":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:loadBalancer":{"f:ingress":{}}}}`),
			}
		}
		out = append(out, svc)
	}
	for i := range l.EndpointSlices {
		s := l.EndpointSlices[i].DeepCopy()
		if s.Labels[api.LabelSliceManagedBy] == api.EndpointSliceManagedBy {
			s.ManagedFields = []metav1.ManagedFieldsEntry{driftEntry(api.FieldManager, "", 1, `{"f:addressType":{},"f:endpoints":{},"f:ports":{}}`)}
		}
		out = append(out, s)
	}
	for i := range l.ConfigMaps {
		cm := l.ConfigMaps[i].DeepCopy()
		cm.ManagedFields = []metav1.ManagedFieldsEntry{driftEntry(api.FieldManager, "", 1, `{"f:data":{".":{},"f:allocations.json":{}}}`)}
		out = append(out, cm)
	}
	for i := range l.Endpoints {
		out = append(out, l.Endpoints[i].DeepCopy())
	}
	return out
}

func driftService(objs []runtime.Object, name string) *corev1.Service {
	for _, o := range objs {
		if s, ok := o.(*corev1.Service); ok && s.Name == name {
			return s
		}
	}
	panic("no service " + name)
}

// driftFought is driftWorld after Argo CD put the placeholder back on the mux and
// someone ran kubectl apply with an old ports annotation on the channel.
func driftFought(t *testing.T) []runtime.Object {
	objs := driftWorld(t)
	mux := driftService(objs, "mux")
	mux.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP, NodePort: 30101}}
	var keys []string
	for k := range mux.Annotations {
		if strings.HasPrefix(k, fxPrefix) && k != fxPrefix+"multiplexer" && k != fxPrefix+"port-range" {
			keys = append(keys, k)
		}
	}
	mux.ManagedFields = []metav1.ManagedFieldsEntry{
		driftEntry(api.FieldManager, "", 1, driftAnnotationFields(keys...)),
		driftEntry("argocd-controller", "", 2, driftPortsFields(mux.Spec.Ports...)),
	}
	ch := driftService(objs, "api")
	ch.Annotations[fxPrefix+"ports"] = "http:8080->20005"
	ch.ManagedFields = []metav1.ManagedFieldsEntry{ch.ManagedFields[1],
		driftEntry("kubectl-client-side-apply", "", 3, driftAnnotationFields(fxPrefix+"ports"))}
	return objs
}

func runDrift(t *testing.T, objs []runtime.Object, args ...string) fxResult {
	t.Helper()
	return runPluginWith(t, fake.NewSimpleClientset(objs...), append([]string{"drift"}, args...)...)
}

func TestDriftOfAConvergedClusterIsNone(t *testing.T) {
	r := runDrift(t, driftWorld(t))
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, "No drift: every field the agent owns holds the value its planner wants.\n", r.Out)

	r = runDrift(t, driftWorld(t), "-o", "json")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.JSONEq(t, `{"apiVersion":"svcmux.nowake.ai/v1alpha1","kind":"DriftReport","drifts":[],"notes":[]}`, r.Out)
}

func TestDriftNamesGitOpsAndKubectlWriters(t *testing.T) {
	api := fxHash("app", "api", "http")
	t.Run("the table names each writer, exit 1", func(t *testing.T) {
		r := runDrift(t, driftFought(t))
		require.Equal(t, ExitFound, r.Code, r.ErrOut)
		assert.Equal(t, ""+
			"OBJECT                FIELD                                           WRITER    MANAGER                     OPERATION   TIME\n"+
			"service/svc-mux/mux   spec.ports                                      gitops    argocd-controller           Update      2026-12-01T10:02:00Z\n"+
			"service/app/api       metadata.annotations[svc-mux.nowake.ai/ports]   kubectl   kubectl-client-side-apply   Update      2026-12-01T10:03:00Z\n",
			r.Out)
		assert.Empty(t, r.ErrOut)
	})
	t.Run("wide adds the desired and live values, exit 1", func(t *testing.T) {
		r := runDrift(t, driftFought(t), "svc-mux/mux", "-o", "wide")
		require.Equal(t, ExitFound, r.Code, r.ErrOut)
		assert.Equal(t, ""+
			"OBJECT                FIELD                                           WRITER    MANAGER                     OPERATION   TIME                   DESIRED            LIVE\n"+
			"service/svc-mux/mux   spec.ports                                      gitops    argocd-controller           Update      2026-12-01T10:02:00Z   "+api+":8080/TCP   placeholder:101/TCP\n"+
			"service/app/api       metadata.annotations[svc-mux.nowake.ai/ports]   kubectl   kubectl-client-side-apply   Update      2026-12-01T10:03:00Z   http:8080->8080    http:8080->20005\n",
			r.Out)
	})
	t.Run("yaml is the same document, exit 1", func(t *testing.T) {
		r := runDrift(t, driftFought(t), "-o", "yaml")
		require.Equal(t, ExitFound, r.Code, r.ErrOut)
		assert.True(t, strings.HasPrefix(r.Out, "apiVersion: svcmux.nowake.ai/v1alpha1\ndrifts:\n- desired: "+api+":8080/TCP\n"), r.Out)
		assert.Contains(t, r.Out, "kind: DriftReport\n")
	})
	t.Run("json has every field of SPEC §8, exit 1", func(t *testing.T) {
		r := runDrift(t, driftFought(t), "-o", "json")
		require.Equal(t, ExitFound, r.Code, r.ErrOut)
		assert.JSONEq(t, `{"apiVersion":"svcmux.nowake.ai/v1alpha1","kind":"DriftReport","notes":[],"drifts":[
			{"object":"service/svc-mux/mux","field":"spec.ports","desired":"`+api+`:8080/TCP","live":"placeholder:101/TCP",
			 "manager":"argocd-controller","operation":"Update","subresource":"","time":"2026-12-01T10:02:00Z","writer":"gitops"},
			{"object":"service/app/api","field":"metadata.annotations[svc-mux.nowake.ai/ports]","desired":"http:8080->8080","live":"http:8080->20005",
			 "manager":"kubectl-client-side-apply","operation":"Update","subresource":"","time":"2026-12-01T10:03:00Z","writer":"kubectl"}]}`, r.Out)
	})
}

func TestDriftLongValuesAreCutInWideOnly(t *testing.T) {
	objs := driftWorld(t)
	mux := driftService(objs, "mux")
	delete(mux.Annotations, fxPrefix+"topology")
	mux.ManagedFields = nil // a removed field is owned by no one
	r := runDrift(t, objs, "-o", "wide")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Equal(t, ""+
		"OBJECT                FIELD                                              WRITER    MANAGER   OPERATION   TIME   DESIRED                                            LIVE\n"+
		"service/svc-mux/mux   metadata.annotations[svc-mux.nowake.ai/topology]   unknown   -         -           -      Mux DNS: 203.0.113.10\\n\\nChannels:\\n  - app/api…   <absent>\n", r.Out)
	r = runDrift(t, objs, "-o", "json")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, `"desired": "Mux DNS: 203.0.113.10\n\nChannels:\n  - app/api\n    DNS: 203.0.113.10\n`, "json has the whole value")
	assert.Contains(t, r.Out, `"time": null`)
}

func TestDriftSkipsAFrozenMuxWithANote(t *testing.T) {
	objs := driftFought(t)
	driftService(objs, "mux").Annotations[fxPrefix+"max-ports"] = "many"
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			r := runDrift(t, objs, "svc-mux/mux", "-o", format)
			require.Equal(t, ExitClean, r.Code, r.ErrOut)
			note := `mux svc-mux/mux is frozen (InvalidMaxPorts: mux svc-mux/mux: ` +
				`invalid svc-mux.nowake.ai/max-ports value "many"; expected an integer >= 1; ` +
				`the mux keeps its current ports, endpoints and state until it is fixed); ` +
				`the agent applies nothing to it, so no drift is reported for it`
			if format == "json" {
				assert.JSONEq(t, `{"apiVersion":"svcmux.nowake.ai/v1alpha1","kind":"DriftReport","drifts":[],"notes":[`+
					strconv.Quote(note)+`]}`, r.Out)
				return
			}
			assert.Equal(t, "No drift in the muxes compared.\nnote: "+note+"\n", r.Out)
		})
	}
}

func TestDriftSaysAStateTheAgentDoesNotWriteIsNotCompared(t *testing.T) {
	objs := driftWorld(t)
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			cm.Data[api.StateKey] = "{not json"
		}
	}
	r := runDrift(t, objs)
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, "No drift in the muxes compared.\n"+
		"note: mux svc-mux/mux: its state is not compared, the agent does not write it: "+
		"mux state ConfigMap svc-mux/mux-port-allocations: invalid JSON: "+
		"invalid character 'n' looking for beginning of object key string; fix it or run kubectl svcmux repair\n", r.Out)
}

func TestDriftInTheAgentsEndpointsMode(t *testing.T) {
	r := runDrift(t, driftWorld(t), "--endpoints-mode=both")
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Equal(t, ""+
		"OBJECT                  FIELD       WRITER    MANAGER   OPERATION   TIME\n"+
		"endpoints/svc-mux/mux   (missing)   unknown   -         -           -\n", r.Out)
}

func TestDriftListsDetachedChannelsOnlyWithoutAMux(t *testing.T) {
	old := fxChannel("app", "old", "mux.svc-mux", map[string]string{"ports": "http:80->80"}, fxTCP("http", 80))
	old.Spec.LoadBalancerClass = nil // no longer a channel: the agent removes its ports annotation
	old.ManagedFields = []metav1.ManagedFieldsEntry{driftEntry("kr8s", "", 0, driftAnnotationFields(fxPrefix+"ports"))}
	objs := append(driftWorld(t), old)

	r := runDrift(t, objs)
	require.Equal(t, ExitFound, r.Code, r.ErrOut)
	assert.Equal(t, ""+
		"OBJECT            FIELD                                           WRITER                MANAGER   OPERATION   TIME\n"+
		"service/app/old   metadata.annotations[svc-mux.nowake.ai/ports]   previous-controller   kr8s      Update      2026-12-01T10:00:00Z\n", r.Out)

	r = runDrift(t, objs, "mux")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
}

func TestDriftCannotRun(t *testing.T) {
	forbidden := func() *fake.Clientset {
		c := fake.NewSimpleClientset()
		c.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "", fmt.Errorf("no"))
		})
		return c
	}
	for _, tc := range []struct {
		name   string
		args   []string
		client func() *fake.Clientset
		errOut string
	}{
		{"an unknown endpoints mode", []string{"--endpoints-mode=mirror"}, nil, `unknown --endpoints-mode "mirror"`},
		{"a mux that does not exist", []string{"nope"}, nil, `mux "nope" not found`},
		{"a Forbidden list of services", nil, forbidden, "could not list services"},
	} {
		for _, format := range []string{"table", "json"} {
			t.Run(tc.name+" exits 2 in "+format, func(t *testing.T) {
				c := fake.NewSimpleClientset(driftWorld(t)...)
				if tc.client != nil {
					c = tc.client()
				}
				r := runPluginWith(t, c, append([]string{"drift", "-o", format}, tc.args...)...)
				assert.Equal(t, ExitCannotRun, r.Code)
				assert.Contains(t, r.ErrOut, tc.errOut)
				assert.Empty(t, r.Out)
			})
		}
	}
	t.Run("an unknown output format exits 2", func(t *testing.T) {
		r := runDrift(t, driftWorld(t), "-o", "dot")
		assert.Equal(t, ExitCannotRun, r.Code)
		assert.Contains(t, r.ErrOut, `unknown output format "dot"`)
	})
}
