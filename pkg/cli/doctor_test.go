package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/snapshot"
)

// doctorAgent is the chart's agent Deployment, ready, and its fresh Lease.
func doctorAgent(renewed time.Time) []runtime.Object {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux", Labels: map[string]string{
			"app.kubernetes.io/component": "agent", "app.kubernetes.io/part-of": "svcmux", "app.kubernetes.io/version": "0.1.0"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(1)), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "agent", Args: []string{"--leader-elect=true", "--leader-election-id=svcmux-agent"}}}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 1},
	}
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "svcmux-agent"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("svcmux-0"), LeaseDurationSeconds: ptr.To(int32(15)),
			RenewTime: ptr.To(metav1.NewMicroTime(renewed))},
	}
	return []runtime.Object{d, l}
}

// doctorSettled returns services and state as the agent leaves them after a pass:
// the planner's mux ports and annotations, channel ports annotations, the state.
func doctorSettled(t *testing.T, svcs ...*corev1.Service) []runtime.Object {
	t.Helper()
	g := &Globals{DefaultMuxNamespace: DefaultMuxNamespace}
	var l snapshot.Lists
	for _, s := range svcs {
		l.Services = append(l.Services, *s)
	}
	cl, err := g.planLists(l, "")
	require.NoError(t, err)
	byName := map[string]*corev1.Service{}
	for _, s := range svcs {
		byName[s.Namespace+"/"+s.Name] = s
	}
	var out []runtime.Object
	for _, m := range cl.Muxes {
		mux := byName[m.key()]
		mux.Spec.Ports = m.Plan.Ports
		for k, v := range m.Plan.Annotations {
			mux.Annotations[k] = v
		}
		for _, oc := range m.Plan.Channels {
			if ch := byName[oc.Channel.String()]; ch != nil && oc.PortsAnnotation != nil {
				ch.Annotations[cl.Keys.Ports] = *oc.PortsAnnotation
			}
		}
		out = append(out, fxState(mux.Namespace, mux.Name, m.Plan.State.Document.Encode()))
	}
	for _, s := range svcs {
		out = append(out, s)
	}
	return out
}

func doctorCleanCluster(t *testing.T, extra ...*corev1.Service) []runtime.Object {
	svcs := append([]*corev1.Service{
		fxMux("svc-mux", "mux", nil),
		fxChannel("app", "api", "mux", nil, fxTCP("http", 8080)),
	}, extra...)
	return append(doctorSettled(t, svcs...), doctorAgent(time.Now())...)
}

// doctorDoc is the DoctorReport as SPEC §8 names its fields.
type doctorDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Findings   []struct {
		Code, Severity, Object, Message, Fix string
	} `json:"findings"`
	Skipped []struct{ Check, Why string } `json:"skipped"`
}

func decodeDoctor(t *testing.T, out string) doctorDoc {
	t.Helper()
	var doc doctorDoc
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	return doc
}

func doctorCodes(doc doctorDoc) []string {
	out := []string{}
	for _, f := range doc.Findings {
		out = append(out, f.Code+" "+f.Severity+" "+f.Object)
	}
	return out
}

const doctorSkippedText = `could not check agent RBAC: no ClusterRole labelled app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux (RBAC not installed by the chart)
could not check version skew: the plugin is a development build (version "dev")
`

func TestDoctorOnACleanClusterFindsNothing(t *testing.T) {
	objs := doctorCleanCluster(t)
	res := runPlugin(t, objs, "doctor")
	assert.Equal(t, 0, res.Code, res.ErrOut)
	assert.Equal(t, doctorSkippedText+"\nNo findings; 2 check(s) skipped.\n", res.Out)

	res = runPlugin(t, doctorCleanCluster(t), "doctor", "-o", "json", "--fail-on", "warning")
	assert.Equal(t, 0, res.Code, res.ErrOut)
	assert.JSONEq(t, `{"apiVersion":"svcmux.nowake.ai/v1alpha1","kind":"DoctorReport","findings":[],"skipped":[
		{"check":"agent RBAC","why":"no ClusterRole labelled app.kubernetes.io/component=agent,app.kubernetes.io/part-of=svcmux (RBAC not installed by the chart)"},
		{"check":"version skew","why":"the plugin is a development build (version \"dev\")"}]}`, res.Out)
}

func TestDoctorPrintsEachFindingWithItsFixAndExitsOne(t *testing.T) {
	withSelector := fxMux("svc-mux", "bad", nil, fxTCP("placeholder", 101))
	withSelector.Spec.Selector = map[string]string{"app": "x"}
	objs := append(doctorCleanCluster(t), withSelector)
	res := runPlugin(t, objs, "doctor")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, `SVCMUX201 ERROR Service svc-mux/bad
  mux svc-mux/bad has a selector; a multiplexer Service must not select pods (remove spec.selector); the agent changes nothing on it until it is fixed
  fix: kubectl -n svc-mux patch svc bad --type=json -p '[{"op":"remove","path":"/spec/selector"}]'
  see: docs/plugin/doctor.md#svcmux201

`+doctorSkippedText+`
1 finding(s): 1 error, 0 warning, 0 info; 2 check(s) skipped.
`, res.Out)

	res = runPlugin(t, objs, "doctor", "-o", "json")
	assert.Equal(t, 1, res.Code)
	doc := decodeDoctor(t, res.Out)
	assert.Equal(t, "DoctorReport", doc.Kind)
	assert.Equal(t, []string{"SVCMUX201 error Service svc-mux/bad"}, doctorCodes(doc))
	assert.Equal(t, `kubectl -n svc-mux patch svc bad --type=json -p '[{"op":"remove","path":"/spec/selector"}]'`, doc.Findings[0].Fix)

	res = runPlugin(t, objs, "doctor", "-o", "yaml")
	assert.Equal(t, 1, res.Code)
	assert.Contains(t, res.Out, "kind: DoctorReport\n")
}

func TestDoctorFailOnWarningMakesAWarningFail(t *testing.T) {
	wasteful := fxChannel("app", "web", "mux", nil, fxTCP("http", 80))
	wasteful.Spec.AllocateLoadBalancerNodePorts = nil
	wasteful.Spec.Ports[0].NodePort = 30080
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"by default a warning does not fail", []string{"doctor"}, 0},
		{"by default a warning does not fail in json", []string{"doctor", "-o", "json"}, 0},
		{"--fail-on error is the default", []string{"doctor", "--fail-on", "error"}, 0},
		{"--fail-on warning fails on it", []string{"doctor", "--fail-on", "warning"}, 1},
		{"--fail-on warning fails on it in json", []string{"doctor", "--fail-on", "warning", "-o", "json"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runPlugin(t, doctorCleanCluster(t, wasteful.DeepCopy()), tt.args...)
			assert.Equal(t, tt.want, res.Code, res.ErrOut)
			assert.Contains(t, res.Out, "SVCMUX605")
		})
	}
}

func TestDoctorSeesAStaleLeaseAndAMissingAgent(t *testing.T) {
	objs := append(doctorSettled(t, fxMux("svc-mux", "mux", nil)), doctorAgent(time.Now().Add(-time.Hour))...)
	doc := decodeDoctor(t, runPlugin(t, objs, "doctor", "-o", "json").Out)
	assert.Equal(t, []string{"SVCMUX105 error Lease svc-mux/svcmux-agent"}, doctorCodes(doc))

	doc = decodeDoctor(t, runPlugin(t, doctorSettled(t, fxMux("svc-mux", "mux", nil)), "doctor", "-o", "json").Out)
	assert.Equal(t, []string{"SVCMUX101 error cluster"}, doctorCodes(doc))
}

// forbidden makes every List of resource fail as RBAC would.
func forbidden(c *fake.Clientset, verb, resource string) {
	c.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("RBAC says no"))
	})
}

func TestDoctorReportsAForbiddenReadAsCouldNotCheck(t *testing.T) {
	c := fake.NewClientset(doctorCleanCluster(t)...)
	forbidden(c, "list", "configmaps")
	forbidden(c, "list", "clusterroles")
	forbidden(c, "get", "leases")
	res := runPluginWith(t, c, "doctor", "-o", "json")
	assert.Equal(t, 0, res.Code, res.ErrOut)
	assert.JSONEq(t, `{"apiVersion":"svcmux.nowake.ai/v1alpha1","kind":"DoctorReport","findings":[],"skipped":[
		{"check":"agent RBAC","why":"could not list clusterroles: clusterroles is forbidden: RBAC says no"},
		{"check":"leader lease","why":"could not get Lease svc-mux/svcmux-agent: leases is forbidden: RBAC says no"},
		{"check":"state health","why":"could not list configmaps: configmaps is forbidden: RBAC says no"},
		{"check":"version skew","why":"the plugin is a development build (version \"dev\")"}]}`, res.Out)

	c = fake.NewClientset(doctorCleanCluster(t)...)
	forbidden(c, "list", "services")
	forbidden(c, "list", "deployments")
	res = runPluginWith(t, c, "doctor")
	assert.Equal(t, 2, res.Code, "with no Service readable nothing was checked: a clean exit would be a lie")
	assert.Contains(t, res.Out, "could not check mux validity: could not list services: services is forbidden: RBAC says no\n")
	assert.Contains(t, res.Out, "could not check agent deployment: could not list deployments: deployments is forbidden: RBAC says no\n")
	assert.Contains(t, res.Out, "No findings; 15 check(s) skipped.\n")
	assert.Equal(t, "error: could not check muxes and channels: could not list services: services is forbidden: RBAC says no\n", res.ErrOut)

	// A finding still fails with 1: what was checked found something.
	c = fake.NewClientset()
	forbidden(c, "list", "services")
	res = runPluginWith(t, c, "doctor", "-o", "json")
	assert.Equal(t, 1, res.Code)
	assert.Equal(t, []string{"SVCMUX101 error cluster"}, doctorCodes(decodeDoctor(t, res.Out)))
}

func TestDoctorCannotRun(t *testing.T) {
	unreachable := fake.NewClientset()
	unreachable.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	tests := []struct {
		name   string
		client func() (kubernetes.Interface, error)
		args   []string
		stderr string
	}{
		{"an unknown --fail-on", nil, []string{"doctor", "--fail-on", "info"}, `error: unknown --fail-on "info": use warning or error`},
		{"an unknown output", nil, []string{"doctor", "-o", "wide"}, `error: unknown output format "wide": use one of table, json, yaml`},
		{"an unreachable API", func() (kubernetes.Interface, error) { return unreachable, nil }, []string{"doctor", "-o", "json"},
			"error: could not list services: connection refused"},
		{"no usable kubeconfig", func() (kubernetes.Interface, error) { return nil, errors.New("load kubeconfig: no context") },
			[]string{"doctor"}, "error: load kubeconfig: no context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res fxResult
			if tt.client == nil {
				res = runPlugin(t, nil, tt.args...)
			} else {
				res = runDoctorWithClient(t, tt.client, tt.args...)
			}
			assert.Equal(t, 2, res.Code)
			assert.Equal(t, "", res.Out)
			assert.Equal(t, tt.stderr+"\n", res.ErrOut)
		})
	}
}

func runDoctorWithClient(t *testing.T, newClient func() (kubernetes.Interface, error), args ...string) fxResult {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	g := &Globals{NewClient: newClient, Getenv: func(string) string { return "" }}
	code := ExecuteContext(context.Background(), streams, g, args)
	return fxResult{Code: code, Out: out.String(), ErrOut: errOut.String()}
}

func TestDoctorCodesPrintsTheCatalog(t *testing.T) {
	res := runPlugin(t, nil, "doctor", "--codes")
	assert.Equal(t, 0, res.Code)
	lines := strings.Split(strings.TrimSpace(res.Out), "\n")
	assert.Regexp(t, `^CODE\s+SEVERITY\s+CHECK\s+TITLE$`, lines[0])
	assert.Regexp(t, `^SVCMUX101\s+error\s+agent deployment\s+agent not installed$`, lines[1])

	res = runPlugin(t, nil, "doctor", "--codes", "-o", "json")
	assert.Equal(t, 0, res.Code)
	var doc struct {
		Kind  string `json:"kind"`
		Codes []struct{ Code, Severity, Check, Title, Message, Fix, Docs string }
	}
	require.NoError(t, json.Unmarshal([]byte(res.Out), &doc))
	assert.Equal(t, "DoctorCodes", doc.Kind)
	assert.Equal(t, "SVCMUX101", doc.Codes[0].Code)
	assert.Equal(t, "docs/plugin/doctor.md#svcmux101", doc.Codes[0].Docs)
	assert.Equal(t, len(lines)-1, len(doc.Codes))
}

func TestDoctorNamespaceScopeKeepsOtherNamespacesOut(t *testing.T) {
	withSelector := fxMux("elsewhere", "bad", nil, fxTCP("placeholder", 101))
	withSelector.Spec.Selector = map[string]string{"app": "x"}
	legacy := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "bad",
		Labels: map[string]string{api.LabelManagedBy: api.AppName, api.LabelComponent: api.ComponentMuxEndpoints}}}
	objs := append(doctorCleanCluster(t), withSelector, legacy)
	doc := decodeDoctor(t, runPlugin(t, objs, "doctor", "-n", "svc-mux", "-o", "json").Out)
	assert.Equal(t, []string{}, doctorCodes(doc))
	doc = decodeDoctor(t, runPlugin(t, objs, "doctor", "-o", "json").Out)
	assert.Equal(t, []string{"SVCMUX201 error Service elsewhere/bad", "SVCMUX702 warning Endpoints elsewhere/bad"}, doctorCodes(doc))
}
