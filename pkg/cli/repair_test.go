package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/repair"
	"github.com/nowakeai/svcmux/pkg/state"
)

// repairGoodDoc is the state the agent writes for repairCluster.
var repairGoodDoc = state.Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "mux"}, Claims: []state.Claim{
	{Namespace: "app", Service: "api", PortName: "http", Protocol: "TCP", ChannelPort: 8080, MuxPort: 20000, Source: "auto"},
	{Namespace: "app", Service: "web", PortName: "http", Protocol: "TCP", ChannelPort: 80, MuxPort: 80, Source: "static"},
}}.Encode()

// repairCluster: svc-mux/mux serves app/web on 80 and app/api on its automatic
// 20000; the state ConfigMap (resourceVersion 7) holds raw.
func repairCluster(raw string) (*corev1.Service, []runtime.Object) {
	mux := fxMux("svc-mux", "mux", map[string]string{"port-range": "20000-20099"},
		fxMuxPort("app", "web", "http", 80, corev1.ProtocolTCP, 0), fxMuxPort("app", "api", "http", 20000, corev1.ProtocolTCP, 0))
	apiSvc := fxWithPorts(fxChannel("app", "api", "mux.svc-mux", map[string]string{"external-ports": "http:auto"}, fxTCP("http", 8080)), "http:8080->20000")
	web := fxWithPorts(fxChannel("app", "web", "mux.svc-mux", nil, fxTCP("http", 80)), "http:80->80")
	objs := []runtime.Object{mux, apiSvc, web}
	if raw != "" {
		cm := fxState("svc-mux", "mux", raw)
		cm.ResourceVersion = "7"
		objs = append(objs, cm)
	}
	return mux, objs
}

func pinRepairClock(t *testing.T) {
	old := repairClock
	repairClock = func() time.Time { return time.Unix(1796169600, 0) }
	t.Cleanup(func() { repairClock = old })
}

// repairWrites are the writes the fake saw, as "verb resource ns/name".
func repairWrites(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		// Create and update actions have one method set: tell them by verb.
		switch a.GetVerb() {
		case "create", "update":
			m, _ := meta.Accessor(a.(k8stesting.CreateAction).GetObject())
			s := a.GetVerb() + " " + a.GetResource().Resource + " " + m.GetNamespace() + "/" + m.GetName()
			if a.GetVerb() == "update" {
				s += " rv=" + m.GetResourceVersion()
			}
			out = append(out, s)
		case "patch":
			p := a.(k8stesting.PatchAction)
			out = append(out, "patch "+a.GetResource().Resource+" "+a.GetNamespace()+"/"+p.GetName()+" "+string(p.GetPatch()))
		case "delete":
			out = append(out, "delete "+a.GetResource().Resource+" "+a.GetNamespace()+"/"+a.(k8stesting.DeleteAction).GetName())
		}
	}
	return out
}

const repairInvalidTable = `mux svc-mux/mux: state ConfigMap svc-mux/mux-port-allocations: update (invalid)
  mux state ConfigMap svc-mux/mux-port-allocations: invalid JSON: unexpected end of JSON input
  keep     app/api:http -> 20000/TCP  (mux-port)
  keep     app/web:http -> 80/TCP  (mux-port)
--- svc-mux/mux-port-allocations (live)
+++ svc-mux/mux-port-allocations (repaired)
@@ -1 +1,41 @@
-{"portClaims": [
+{
+  "allocations": [
+    {
+      "channelPort": 8080,
+      "muxPort": 20000,
+      "namespace": "app",
+      "port": 20000,
+      "portName": "http",
+      "protocol": "TCP",
+      "service": "api",
+      "source": "auto"
+    }
+  ],
+  "mux": {
+    "name": "mux",
+    "namespace": "svc-mux"
+  },
+  "portClaims": [
+    {
+      "channelPort": 8080,
+      "muxPort": 20000,
+      "namespace": "app",
+      "port": 20000,
+      "portName": "http",
+      "protocol": "TCP",
+      "service": "api",
+      "source": "auto"
+    },
+    {
+      "channelPort": 80,
+      "muxPort": 80,
+      "namespace": "app",
+      "port": 80,
+      "portName": "http",
+      "protocol": "TCP",
+      "service": "web",
+      "source": "static"
+    }
+  ],
+  "schemaVersion": 1
+}
`

func TestRepairWithoutApplyPrintsTheDiffAndWritesNothing(t *testing.T) {
	_, objs := repairCluster(`{"portClaims": [`)
	c := fake.NewClientset(objs...)
	r := runPluginWith(t, c, "repair")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, repairInvalidTable+"\nDry run: nothing was written. Run again with --apply to write it (the old state ConfigMap is saved first).\n", r.Out)
	assert.Empty(t, repairWrites(c))
}

func TestRepairApplySavesTheOldStateFirstThenUpdatesWithItsResourceVersion(t *testing.T) {
	pinRepairClock(t)
	_, objs := repairCluster(`{"portClaims": [`)
	c := fake.NewClientset(objs...)
	r := runPluginWith(t, c, "repair", "--apply")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, repairInvalidTable+
		"  wrote    create ConfigMap svc-mux/mux-port-allocations-backup-1796169600\n"+
		"  wrote    update ConfigMap svc-mux/mux-port-allocations (resourceVersion 7)\n", r.Out)
	assert.Equal(t, []string{
		"create configmaps svc-mux/mux-port-allocations-backup-1796169600",
		"update configmaps svc-mux/mux-port-allocations rv=7",
	}, repairWrites(c))

	managers := []string{}
	for _, a := range c.Actions() {
		if u, ok := a.(k8stesting.UpdateActionImpl); ok {
			managers = append(managers, "update:"+u.UpdateOptions.FieldManager)
		}
		if cr, ok := a.(k8stesting.CreateActionImpl); ok {
			managers = append(managers, "create:"+cr.CreateOptions.FieldManager)
		}
	}
	assert.Equal(t, []string{"create:" + RepairFieldManager, "update:" + RepairFieldManager}, managers)
	backup, err := c.CoreV1().ConfigMaps("svc-mux").Get(t.Context(), "mux-port-allocations-backup-1796169600", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, `{"portClaims": [`, backup.Data[api.StateKey])
	assert.Equal(t, repair.ComponentStateBackup, backup.Labels[api.LabelComponent], "the agent never reads a backup as state")
	repaired, err := c.CoreV1().ConfigMaps("svc-mux").Get(t.Context(), "mux-port-allocations", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, repairGoodDoc, repaired.Data[api.StateKey])
	assert.Equal(t, map[string]string{api.LabelName: api.AppName, api.LabelComponent: api.ComponentMuxState}, repaired.Labels)
	assert.Equal(t, "svc-mux/mux", repaired.Annotations[fxPrefix+"mux"])

	again := runPluginWith(t, c, "repair")
	assert.Equal(t, ExitClean, again.Code)
	assert.Contains(t, again.Out, "state ConfigMap svc-mux/mux-port-allocations: none\n")
	assert.True(t, strings.HasSuffix(again.Out, "\nNothing to repair.\n"), again.Out)
}

func TestRepairCreatesAMissingStateWithoutABackup(t *testing.T) {
	_, objs := repairCluster("")
	c := fake.NewClientset(objs...)
	r := runPluginWith(t, c, "repair", "mux", "--apply", "-o", "json")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	var doc RepairPlan
	require.NoError(t, json.Unmarshal([]byte(r.Out), &doc))
	assert.Equal(t, "RepairPlan", doc.Kind)
	assert.Equal(t, repair.ActionCreate, doc.State.Action)
	assert.Equal(t, []string{repair.ProblemMissing}, doc.State.Problems)
	assert.Equal(t, []RepairWrite{{Verb: "create", Object: ObjectName{Kind: "ConfigMap", Namespace: "svc-mux", Name: "mux-port-allocations"}}}, doc.Writes)
	assert.Equal(t, []string{"create configmaps svc-mux/mux-port-allocations"}, repairWrites(c))
}

func TestRepairFindsAStateConfigMapThatLostItsLabel(t *testing.T) {
	_, objs := repairCluster(repairGoodDoc)
	objs[len(objs)-1].(*corev1.ConfigMap).Labels = nil
	c := fake.NewClientset(objs...)
	pinRepairClock(t)
	r := runPluginWith(t, c, "repair", "--apply")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, "mux svc-mux/mux: state ConfigMap svc-mux/mux-port-allocations: update (unlabelled)\n")
	assert.Equal(t, []string{
		"create configmaps svc-mux/mux-port-allocations-backup-1796169600",
		"update configmaps svc-mux/mux-port-allocations rv=7",
	}, repairWrites(c))
	cm, err := c.CoreV1().ConfigMaps("svc-mux").Get(t.Context(), "mux-port-allocations", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, api.ComponentMuxState, cm.Labels[api.LabelComponent])
}

func TestRepairBackupFileReplacesTheBackupConfigMap(t *testing.T) {
	_, objs := repairCluster(`{"portClaims": [`)
	c := fake.NewClientset(objs...)
	path := filepath.Join(t.TempDir(), "backup.yaml")
	r := runPluginWith(t, c, "repair", "--apply", "--backup-file", path)
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Contains(t, r.Out, "  wrote    saved ConfigMap svc-mux/mux-port-allocations to "+path+"\n")
	assert.Equal(t, []string{"update configmaps svc-mux/mux-port-allocations rv=7"}, repairWrites(c))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), "kind: List\n")
	assert.Contains(t, string(b), `allocations.json: '{"portClaims": ['`)
	assert.NotContains(t, string(b), "resourceVersion", "kubectl replace -f restores it")

	// An existing file is never overwritten: nothing is written at all.
	c2 := fake.NewClientset(objs...)
	r2 := runPluginWith(t, c2, "repair", "--apply", "--backup-file", path)
	assert.Equal(t, ExitCannotRun, r2.Code)
	assert.Contains(t, r2.ErrOut, "write backup file: open "+path+": file exists")
	assert.Empty(t, repairWrites(c2))
}

func TestRepairRefusesToMoveALivePort(t *testing.T) {
	mux, objs := repairCluster(`{"portClaims": [`)
	// The channel now asks for 20001 while the live mux serves it on 20000.
	objs[1].(*corev1.Service).Annotations[fxPrefix+"external-ports"] = "http:20001"
	_ = mux
	const refusal = "  REFUSED  LivePortWouldMove: live mux port 20000/TCP of app/api:http would move to 20001/TCP; the agent does the same with the state as it is, so the cause is the channel or the mux, not the state: fix that first\n"
	for _, output := range []string{"table", "json"} {
		t.Run(output, func(t *testing.T) {
			c := fake.NewClientset(objs...)
			r := runPluginWith(t, c, "repair", "svc-mux/mux", "--apply", "-o", output)
			assert.Equal(t, ExitFound, r.Code, r.ErrOut)
			assert.Empty(t, repairWrites(c), "a refused repair writes nothing")
			if output == "table" {
				assert.Contains(t, r.Out, refusal)
				return
			}
			var doc RepairPlan
			require.NoError(t, json.Unmarshal([]byte(r.Out), &doc))
			assert.Equal(t, []repair.Refusal{{Reason: repair.ReasonLivePortWouldMove,
				Message: strings.TrimSuffix(strings.TrimPrefix(refusal, "  REFUSED  LivePortWouldMove: "), "\n")}}, doc.Refused)
			assert.Equal(t, []RepairWrite{}, doc.Writes)
		})
	}
}

func TestRepairRefusesAStateSharedWithAnotherMux(t *testing.T) {
	_, objs := repairCluster(repairGoodDoc)
	other := fxMux("svc-mux", "other", map[string]string{"allocation-configmap": "mux-port-allocations"})
	objs = append(objs, other)
	r := runPlugin(t, objs, "repair", "-o", "json")
	assert.Equal(t, ExitFound, r.Code, r.ErrOut)
	var list RepairPlanList
	require.NoError(t, json.Unmarshal([]byte(r.Out), &list))
	require.Len(t, list.Items, 2)
	assert.Empty(t, list.Items[0].Refused, "svc-mux/mux owns it")
	assert.Equal(t, repair.ActionNone, list.Items[0].State.Action)
	require.Len(t, list.Items[1].Refused, 1)
	assert.Equal(t, repair.ReasonSharedStateConfigMap, list.Items[1].Refused[0].Reason)
	assert.Equal(t, []string{repair.ProblemForeign, repair.ProblemShared}, list.Items[1].State.Problems)
}

func TestRepairStripsFinalizersAndDeletesLegacyEndpointsOnlyWhenAsked(t *testing.T) {
	_, objs := repairCluster(repairGoodDoc)
	objs[1].(*corev1.Service).Finalizers = []string{fxPrefix + "finalizer", "example.com/keep"}
	objs = append(objs, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux", ResourceVersion: "3",
		Labels: map[string]string{api.LabelManagedBy: api.AppName, api.LabelComponent: api.ComponentMuxEndpoints}}})

	c := fake.NewClientset(objs...)
	r := runPluginWith(t, c, "repair", "--apply")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, `mux svc-mux/mux: state ConfigMap svc-mux/mux-port-allocations: none
  keep     app/api:http -> 20000/TCP  (claim)
  keep     app/web:http -> 80/TCP  (claim)
  leftover Service app/api has the previous controller's finalizer (--strip-finalizers removes it)
  leftover Endpoints svc-mux/mux of the previous controller (--delete-legacy-endpoints deletes it)
`, r.Out)
	assert.Empty(t, repairWrites(c))

	c = fake.NewClientset(objs...)
	r = runPluginWith(t, c, "repair", "--apply", "--strip-finalizers", "--delete-legacy-endpoints")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.Equal(t, []string{
		`patch services app/api [{"op":"test","path":"/metadata/finalizers","value":["svc-mux.nowake.ai/finalizer","example.com/keep"]},{"op":"replace","path":"/metadata/finalizers","value":["example.com/keep"]}]`,
		"delete endpoints svc-mux/mux",
	}, repairWrites(c))
	var preconditions []string
	for _, a := range c.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.DeleteOptions.Preconditions != nil {
			preconditions = append(preconditions, *d.DeleteOptions.Preconditions.ResourceVersion)
		}
	}
	assert.Equal(t, []string{"3"}, preconditions, "the Endpoints is deleted only as it was read")
	svc, err := c.CoreV1().Services("app").Get(t.Context(), "api", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"example.com/keep"}, svc.Finalizers)
}

func TestRepairExitCodes(t *testing.T) {
	_, invalid := repairCluster(`{"portClaims": [`)
	_, good := repairCluster(repairGoodDoc)
	conflict := func(c *fake.Clientset) {
		c.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "mux-port-allocations", errors.New("the object has been modified"))
		})
	}
	listFails := func(c *fake.Clientset) {
		c.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("connection refused")
		})
	}
	tests := []struct {
		name  string
		objs  []runtime.Object
		react func(*fake.Clientset)
		args  []string
		code  int
	}{
		{name: "a healthy state is clean", objs: good, code: ExitClean},
		{name: "pending changes without --apply are not a finding", objs: invalid, code: ExitClean},
		{name: "a concurrent change to the state makes the update fail", objs: invalid, react: conflict, args: []string{"--apply"}, code: ExitCannotRun},
		{name: "an unreachable API cannot run", objs: good, react: listFails, code: ExitCannotRun},
		{name: "an unknown mux cannot run", objs: good, args: []string{"nope"}, code: ExitCannotRun},
	}
	for _, tc := range tests {
		for _, output := range []string{"table", "json"} {
			t.Run(tc.name+" ("+output+")", func(t *testing.T) {
				pinRepairClock(t)
				c := fake.NewClientset(tc.objs...)
				if tc.react != nil {
					tc.react(c)
				}
				r := runPluginWith(t, c, append([]string{"repair", "-o", output}, tc.args...)...)
				assert.Equal(t, tc.code, r.Code, r.ErrOut)
				if output == "json" && tc.code != ExitCannotRun {
					assert.True(t, json.Valid([]byte(r.Out)), r.Out)
				}
			})
		}
	}
	r := runPlugin(t, good, "repair", "-o", "wide")
	assert.Equal(t, ExitCannotRun, r.Code)
}

func TestRepairYAMLIsTheSameDocument(t *testing.T) {
	_, objs := repairCluster(repairGoodDoc)
	r := runPlugin(t, objs, "repair", "mux", "-o", "yaml")
	require.Equal(t, ExitClean, r.Code, r.ErrOut)
	assert.True(t, strings.HasPrefix(r.Out, "apiVersion: svcmux.nowake.ai/v1alpha1\napplied: false\ndropped: []\nfinalizers: []\nkept:\n"), r.Out)
	assert.Contains(t, r.Out, "kind: RepairPlan\n")
	assert.Contains(t, r.Out, "state:\n  action: none\n  diff: \"\"\n  name: mux-port-allocations\n  namespace: svc-mux\n  problems: []\n")
}
