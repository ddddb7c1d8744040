package repair

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
	"github.com/nowakeai/svcmux/pkg/state"
)

// The world most cases share: app/api asks for an automatic port and holds 20000,
// app/web serves its own port 80; the live mux serves both.
func world() (*corev1.Service, []*corev1.Service) {
	return testMux("app/web:http=80", "app/api:http=20000"),
		[]*corev1.Service{auto(testChannel("app/api", "http:8080"), "http"), testChannel("app/web", "http:80")}
}

var (
	apiClaim = claim("app", "api", "http", 8080, 20000, state.SourceAuto)
	webClaim = claim("app", "web", "http", 80, 80, state.SourceStatic)
	goodDoc  = doc(apiClaim, webClaim)
)

func keptAPI(ev string) Kept {
	return Kept{Namespace: "app", Service: "api", PortName: "http", MuxPort: 20000, Protocol: "TCP", Source: "auto", Evidence: ev}
}

func keptWeb(ev string) Kept {
	return Kept{Namespace: "app", Service: "web", PortName: "http", MuxPort: 80, Protocol: "TCP", Source: "static", Evidence: ev}
}

func TestRepairRebuildsTheStateFromLiveEvidence(t *testing.T) {
	foreignAnnotation := stateCM(goodDoc)
	foreignAnnotation.Annotations[testKeys.Mux] = "svc-mux/other"
	unlabelled := stateCM(goodDoc)
	unlabelled.Labels = nil
	withNodePorts := stateCM("{")
	withNodePorts.Data["nodeports.json"] = `{"x":1}`
	older := `{"allocations": [{"namespace": "app", "port": 20000, "portName": "http", "protocol": "TCP", "service": "api"}],` +
		` "mux": {"name": "mux", "namespace": "svc-mux"}, "schemaVersion": 1}`

	tests := []struct {
		name     string
		cm       *corev1.ConfigMap
		shared   []api.MuxRef
		action   string
		problems []string
		kept     []Kept
		dropped  []Dropped
	}{
		{name: "a healthy state needs nothing", cm: stateCM(goodDoc), action: ActionNone,
			problems: []string{}, kept: []Kept{keptAPI(EvidenceClaim), keptWeb(EvidenceClaim)}},
		{name: "a missing ConfigMap is created from the live mux ports", cm: nil, action: ActionCreate,
			problems: []string{ProblemMissing}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceMuxPort)}},
		{name: "invalid JSON is replaced by the live owners", cm: stateCM(`{"portClaims": [`), action: ActionUpdate,
			problems: []string{ProblemInvalid}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceMuxPort)}},
		{name: "other keys survive an invalid allocations.json", cm: withNodePorts, action: ActionUpdate,
			problems: []string{ProblemInvalid}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceMuxPort)}},
		{name: "a ConfigMap annotated for another mux is rebuilt without trusting its claims", cm: foreignAnnotation,
			action: ActionUpdate, problems: []string{ProblemForeign}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceMuxPort)}},
		{name: "a document naming another mux is foreign too",
			cm:     stateCM(state.Document{Mux: api.MuxRef{Namespace: "svc-mux", Name: "old"}, Claims: []state.Claim{apiClaim}}.Encode()),
			action: ActionUpdate, problems: []string{ProblemForeign}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceMuxPort)}},
		{name: "an unlabelled ConfigMap the agent cannot see is relabelled", cm: unlabelled, action: ActionUpdate,
			problems: []string{ProblemUnlabelled}, kept: []Kept{keptAPI(EvidenceClaim), keptWeb(EvidenceClaim)}},
		{name: "the older format is migrated to portClaims", cm: stateCM(older), action: ActionUpdate,
			problems: []string{ProblemOlderFormat}, kept: []Kept{keptAPI(EvidenceClaim), keptWeb(EvidenceMuxPort)}},
		{name: "claims of a deleted channel and of a removed port are dropped as stale",
			cm: stateCM(doc(apiClaim, webClaim, claim("app", "gone", "http", 80, 20001, "auto"),
				claim("app", "web", "metrics", 9090, 20002, "auto"))),
			action: ActionUpdate, problems: []string{ProblemStale}, kept: []Kept{keptAPI(EvidenceClaim), keptWeb(EvidenceClaim)},
			dropped: []Dropped{
				{Kept: Kept{Namespace: "app", Service: "gone", PortName: "http", MuxPort: 20001, Protocol: "TCP", Source: "auto"},
					Reason: ProblemStale, Detail: "channel app/gone is gone or no longer attached to this mux"},
				{Kept: Kept{Namespace: "app", Service: "web", PortName: "metrics", MuxPort: 20002, Protocol: "TCP", Source: "auto"},
					Reason: ProblemStale, Detail: "channel app/web has no port metrics/TCP"},
			}},
		{name: "a claim on a port the live mux serves for another channel is dropped as conflicting",
			cm:     stateCM(doc(claim("app", "api", "http", 8080, 80, "auto"), webClaim)),
			action: ActionUpdate, problems: []string{ProblemConflicting}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceClaim)},
			dropped: []Dropped{{Kept: Kept{Namespace: "app", Service: "api", PortName: "http", MuxPort: 80, Protocol: "TCP", Source: "auto"},
				Reason: ProblemConflicting, Detail: "the live mux serves 80/TCP for app/web:http"}}},
		{name: "a claim the live mux serves elsewhere is dropped as conflicting",
			cm:     stateCM(doc(claim("app", "api", "http", 8080, 20005, "auto"), webClaim)),
			action: ActionUpdate, problems: []string{ProblemConflicting}, kept: []Kept{keptAPI(EvidenceMuxPort), keptWeb(EvidenceClaim)},
			dropped: []Dropped{{Kept: Kept{Namespace: "app", Service: "api", PortName: "http", MuxPort: 20005, Protocol: "TCP", Source: "auto"},
				Reason: ProblemConflicting, Detail: "the live mux serves app/api:http on 20000/TCP"}}},
		{name: "a state shared with another mux that this mux owns is repaired", cm: stateCM(goodDoc),
			shared: []api.MuxRef{{Namespace: "svc-mux", Name: "other"}}, action: ActionNone,
			problems: []string{}, kept: []Kept{keptAPI(EvidenceClaim), keptWeb(EvidenceClaim)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, chans := world()
			s := snap(m, tc.cm, chans...)
			before := snap(m.DeepCopy(), nil, deepCopies(chans)...)
			if tc.cm != nil {
				before.StateConfigMap = tc.cm.DeepCopy()
			}
			r := Compute(Input{Snapshot: s, Options: testOpts, SharedWith: tc.shared})
			assert.Empty(t, r.Refused)
			assert.Equal(t, tc.action, r.State.Action)
			assert.Equal(t, tc.problems, r.State.Problems)
			assert.Equal(t, tc.kept, r.Kept)
			if tc.dropped == nil {
				tc.dropped = []Dropped{}
			}
			assert.Equal(t, tc.dropped, r.Dropped)
			assert.Equal(t, goodDoc, r.New, "the rebuilt document is the agent's, byte for byte")
			assert.Equal(t, r.Old == r.New, r.State.Diff == "", "the diff shows allocations.json; metadata fixes are named by the problems")
			assert.True(t, equality.Semantic.DeepEqual(before, s), "the snapshot is not mutated")
			assertAgentKeepsEverything(t, r, s)
		})
	}
}

// assertAgentKeepsEverything: after the write, the agent's pass serves every live
// port where it is, writes the state no further, and sees the ConfigMap.
func assertAgentKeepsEverything(t *testing.T, r Plan, s plan.Snapshot) {
	t.Helper()
	cm := r.ConfigMap(s.StateConfigMap)
	assert.Equal(t, api.ComponentMuxState, cm.Labels[api.LabelComponent])
	assert.Equal(t, "svc-mux/mux", cm.Annotations[testKeys.Mux])
	if s.StateConfigMap != nil {
		for k, v := range s.StateConfigMap.Data {
			if k != api.StateKey {
				assert.Equal(t, v, cm.Data[k], "key %s is kept", k)
			}
		}
	}
	s.StateConfigMap = cm
	p := plan.Compute(s, testOpts)
	require.True(t, p.State.Readable, p.State.Problem)
	assert.False(t, p.State.Write, "the agent finds nothing to write in the state")
	assert.Equal(t, s.Mux.Spec.Ports, p.Ports, "no live port moves")
}

func deepCopies(in []*corev1.Service) []*corev1.Service {
	out := make([]*corev1.Service, len(in))
	for i, s := range in {
		out[i] = s.DeepCopy()
	}
	return out
}

func TestRepairOfAMissingStateWritesTheExactDocument(t *testing.T) {
	m, chans := world()
	r := Compute(Input{Snapshot: snap(m, nil, chans...), Options: testOpts})
	want := `{
  "allocations": [
    {
      "channelPort": 8080,
      "muxPort": 20000,
      "namespace": "app",
      "port": 20000,
      "portName": "http",
      "protocol": "TCP",
      "service": "api",
      "source": "auto"
    }
  ],
  "mux": {
    "name": "mux",
    "namespace": "svc-mux"
  },
  "portClaims": [
    {
      "channelPort": 8080,
      "muxPort": 20000,
      "namespace": "app",
      "port": 20000,
      "portName": "http",
      "protocol": "TCP",
      "service": "api",
      "source": "auto"
    },
    {
      "channelPort": 80,
      "muxPort": 80,
      "namespace": "app",
      "port": 80,
      "portName": "http",
      "protocol": "TCP",
      "service": "web",
      "source": "static"
    }
  ],
  "schemaVersion": 1
}`
	assert.Equal(t, want, r.New)
	assert.Equal(t, "", r.Old)
	assert.Equal(t, State{Namespace: "svc-mux", Name: "mux-port-allocations", Action: ActionCreate,
		Problems: []string{ProblemMissing}, Diff: r.State.Diff}, r.State)
	assert.Contains(t, r.State.Diff, "--- svc-mux/mux-port-allocations (missing)\n+++ svc-mux/mux-port-allocations (repaired)\n@@ -0,0 +1,41 @@\n+{\n")
}

func TestRepairDiffIsAUnifiedDiffOfAllocationsJSON(t *testing.T) {
	m, chans := world()
	stale := doc(apiClaim, webClaim, claim("app", "web", "metrics", 9090, 20002, "auto"))
	r := Compute(Input{Snapshot: snap(m, stateCM(stale), chans...), Options: testOpts})
	want := `--- svc-mux/mux-port-allocations (live)
+++ svc-mux/mux-port-allocations (repaired)
@@ -8,16 +8,6 @@
       "portName": "http",
       "protocol": "TCP",
       "service": "api",
-      "source": "auto"
-    },
-    {
-      "channelPort": 9090,
-      "muxPort": 20002,
-      "namespace": "app",
-      "port": 20002,
-      "portName": "metrics",
-      "protocol": "TCP",
-      "service": "web",
       "source": "auto"
     }
   ],
@@ -45,16 +35,6 @@
       "protocol": "TCP",
       "service": "web",
       "source": "static"
-    },
-    {
-      "channelPort": 9090,
-      "muxPort": 20002,
-      "namespace": "app",
-      "port": 20002,
-      "portName": "metrics",
-      "protocol": "TCP",
-      "service": "web",
-      "source": "auto"
     }
   ],
   "schemaVersion": 1
`
	assert.Equal(t, want, r.State.Diff)
}

func TestRepairConflictingClaimsKeepTheFirstWhenNoLivePortDecides(t *testing.T) {
	// Neither channel is live yet (the agent never ran a pass with them).
	m := testMux()
	chans := []*corev1.Service{auto(testChannel("app/a", "http:8080"), "http"), auto(testChannel("app/b", "http:8080"), "http")}
	cm := stateCM(doc(claim("app", "a", "http", 8080, 20000, "auto"), claim("app", "b", "http", 8080, 20000, "auto")))
	r := Compute(Input{Snapshot: snap(m, cm, chans...), Options: testOpts})
	assert.Empty(t, r.Refused)
	assert.Equal(t, []string{ProblemConflicting}, r.State.Problems)
	assert.Equal(t, []Dropped{{Kept: Kept{Namespace: "app", Service: "b", PortName: "http", MuxPort: 20000, Protocol: "TCP", Source: "auto"},
		Reason: ProblemConflicting, Detail: "20000/TCP is also claimed by app/a:http, which comes first"}}, r.Dropped)
	assert.Equal(t, []Kept{
		{Namespace: "app", Service: "a", PortName: "http", MuxPort: 20000, Protocol: "TCP", Source: "auto", Evidence: EvidenceClaim},
		{Namespace: "app", Service: "b", PortName: "http", MuxPort: 20001, Protocol: "TCP", Source: "auto", Evidence: EvidenceAllocated},
	}, r.Kept)
}

func TestRepairRecoversFromPortsAnnotationsWhenTheMuxLostItsPorts(t *testing.T) {
	// A GitOps tool put the placeholder back and the state is gone: only the
	// channels' ports annotations remember the owners.
	m := testMux()
	api1 := withAnnotation(auto(testChannel("app/api", "http:8080"), "http"), testKeys.Ports, "http:8080->20007")
	r := Compute(Input{Snapshot: snap(m, stateCM("not json"), api1), Options: testOpts})
	assert.Empty(t, r.Refused)
	assert.Equal(t, []Kept{{Namespace: "app", Service: "api", PortName: "http", MuxPort: 20007, Protocol: "TCP", Source: "auto",
		Evidence: EvidenceAnnotation}}, r.Kept)
}

func TestRepairRefuses(t *testing.T) {
	foreign := stateCM(goodDoc)
	foreign.Annotations[testKeys.Mux] = "svc-mux/other"
	frozen, chans := world()
	frozen.Annotations[testKeys.MaxPorts] = "many"
	limited, _ := world()
	limited.Annotations[testKeys.MaxPorts] = "1"
	_, moved := world()
	moved[0] = withAnnotation(testChannel("app/api", "http:8080"), testKeys.ExternalPorts, "http:20001")

	tests := []struct {
		name    string
		mux     *corev1.Service
		chans   []*corev1.Service
		cm      *corev1.ConfigMap
		shared  []api.MuxRef
		refused []Refusal
	}{
		{name: "a ConfigMap another mux owns and shares", cm: foreign, shared: []api.MuxRef{{Namespace: "svc-mux", Name: "other"}},
			refused: []Refusal{{Reason: ReasonSharedStateConfigMap, Message: "state ConfigMap svc-mux/mux-port-allocations is also the state of mux [svc-mux/other] and does not belong to svc-mux/mux; give svc-mux/mux its own: kubectl annotate service -n svc-mux mux svc-mux.nowake.ai/allocation-configmap=mux-port-allocations --overwrite, then run repair again"}}},
		{name: "a frozen mux", mux: frozen, cm: stateCM("{"),
			refused: []Refusal{{Reason: ReasonMuxFrozen, Message: "mux svc-mux/mux is not reconciled (InvalidMaxPorts): the agent changes nothing on it, so there is no state to rebuild; fix the mux first (kubectl svcmux topology svc-mux/mux)"}}},
		{name: "a live port that would move because the channel asks for another", chans: moved, cm: stateCM("{"),
			refused: []Refusal{{Reason: ReasonLivePortWouldMove, Message: "live mux port 20000/TCP of app/api:http would move to 20001/TCP; the agent does the same with the state as it is, so the cause is the channel or the mux, not the state: fix that first"}}},
		{name: "a live port over a lowered port limit", mux: limited, cm: stateCM("{"),
			refused: []Refusal{{Reason: ReasonLivePortWouldBeLost, Message: "live mux port 80/TCP of app/web:http would no longer be served (MuxPortLimitExceeded: mux svc-mux/mux is limited to 1 port(s) and serves 1; channel app/web needs 1 more; remove ports or raise svc-mux.nowake.ai/max-ports); the agent does the same with the state as it is, so the cause is the channel or the mux, not the state: fix that first"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, c := world()
			if tc.mux != nil {
				m = tc.mux
			}
			if tc.chans != nil {
				c = tc.chans
			}
			r := Compute(Input{Snapshot: snap(m, tc.cm, c...), Options: testOpts, SharedWith: tc.shared})
			assert.Equal(t, tc.refused, r.Refused)
			if tc.shared != nil {
				assert.Equal(t, ActionNone, r.State.Action, "nothing is written into another mux's ConfigMap")
				assert.Equal(t, "", r.State.Diff)
			}
		})
	}
	_ = chans
}

func TestBackupIsNeverReadAsState(t *testing.T) {
	old := stateCM("{")
	b := Backup(old, testKeys, testOpts.Now.Time)
	assert.Equal(t, "mux-port-allocations-backup-1796169600", b.Name)
	assert.Equal(t, "svc-mux", b.Namespace)
	assert.Equal(t, map[string]string{api.LabelName: api.AppName, api.LabelComponent: ComponentStateBackup}, b.Labels)
	assert.Equal(t, map[string]string{"svc-mux.nowake.ai/backup-of": "svc-mux/mux-port-allocations@7"}, b.Annotations)
	assert.Equal(t, old.Data, b.Data)
}

func TestRepairKeepsTheLastGoodPortsOfAChannelWithABadEdit(t *testing.T) {
	// app/api was accepted on 20000; its external-ports is now invalid and the state
	// is lost. The agent keeps serving it on 20000 (SPEC §3), so the repair keeps it.
	m, chans := world()
	chans[0] = withAnnotation(testChannel("app/api", "http:8080"), testKeys.ExternalPorts, "http:99999")
	r := Compute(Input{Snapshot: snap(m, stateCM("{"), chans...), Options: testOpts})
	assert.Empty(t, r.Refused)
	kept := keptAPI(EvidenceMuxPort)
	kept.Source = state.SourceStatic // as the agent records a kept port its mapping no longer says is auto
	assert.Equal(t, []Kept{kept, keptWeb(EvidenceMuxPort)}, r.Kept)
	s := snap(m, stateCM("{"), chans...)
	s.StateConfigMap = r.ConfigMap(s.StateConfigMap)
	p := plan.Compute(s, testOpts)
	assert.False(t, p.State.Write)
	assert.Equal(t, m.Spec.Ports, p.Ports, "the kept port stays")
}

func TestRepairTreatsTheSamePortOnTwoProtocolsAsTwoOwners(t *testing.T) {
	m := testMux("app/dns:tcp=53", "app/dns-udp:udp=53/UDP")
	udp := testChannel("app/dns-udp")
	udp.Spec.Ports = []corev1.ServicePort{{Name: "udp", Port: 53, Protocol: corev1.ProtocolUDP}}
	tcp := testChannel("app/dns", "tcp:53")
	claims := []state.Claim{claim("app", "dns", "tcp", 53, 53, "static"),
		{Namespace: "app", Service: "dns-udp", PortName: "udp", Protocol: corev1.ProtocolUDP, ChannelPort: 53, MuxPort: 53, Source: "static"}}
	r := Compute(Input{Snapshot: snap(m, stateCM(doc(claims...)), tcp, udp), Options: testOpts})
	assert.Empty(t, r.Refused)
	assert.Empty(t, r.Dropped)
	assert.Equal(t, ActionNone, r.State.Action)
	assert.Equal(t, doc(claims...), r.New)
}

// A repaired state carries the NodePorts the agent would remember next, so the
// agent resumes without a write of its own; a key that already says so is kept.
func TestRepairWritesTheLiveMuxNodePortsTheAgentWouldRemember(t *testing.T) {
	m, chans := world()
	for i := range m.Spec.Ports {
		m.Spec.Ports[i].NodePort = int32(31000 + i)
	}
	r := Compute(Input{Snapshot: snap(m, nil, chans...), Options: testOpts})
	var want state.NodePorts
	for i, sp := range m.Spec.Ports {
		want = append(want, state.NodePort{Name: sp.Name, Port: sp.Port, Protocol: sp.Protocol, NodePort: int32(31000 + i)})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	assert.Equal(t, state.EncodeNodePorts(want), r.NodePorts)
	assert.Equal(t, r.NodePorts, r.ConfigMap(nil).Data[api.NodePortsKey])

	cm := r.ConfigMap(nil)
	again := Compute(Input{Snapshot: snap(m, cm, chans...), Options: testOpts})
	assert.Equal(t, "", again.NodePorts, "the key already holds them")
	assert.Equal(t, cm.Data[api.NodePortsKey], again.ConfigMap(cm).Data[api.NodePortsKey])
}
