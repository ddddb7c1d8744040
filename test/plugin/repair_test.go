package plugin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// repairDoc is `kubectl svcmux repair MUX -o json` as SPEC §8 states it.
type repairDoc struct {
	Kind  string `json:"kind"`
	State struct {
		Namespace string   `json:"namespace"`
		Name      string   `json:"name"`
		Action    string   `json:"action"`
		Problems  []string `json:"problems"`
		Diff      string   `json:"diff"`
	} `json:"state"`
	Kept []struct {
		Service  string `json:"service"`
		MuxPort  int32  `json:"muxPort"`
		Evidence string `json:"evidence"`
	} `json:"kept"`
	Refused []struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"refused"`
	Writes []struct {
		Verb   string `json:"verb"`
		Object struct {
			Kind, Namespace, Name string
		} `json:"object"`
		Precondition string `json:"precondition"`
		Error        string `json:"error"`
	} `json:"writes"`
}

// repairWorld: mux m with a default port (a), two automatic ports (b, c) and a
// UDP port (u), converged by the real agent, which is then stopped.
func repairWorld(t *testing.T) (*world.World, *world.Agent) {
	w := world.New(t)
	w.CreateMux("m", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateChannel("a", "m", nil, world.TCP("http", 8080))
	w.CreateChannel("b", "m", w.ExternalPorts("p:auto"), world.TCP("p", 80))
	w.CreateChannel("c", "m", w.ExternalPorts("q:auto"), world.TCP("q", 81))
	w.CreateChannel("u", "m", nil, world.UDP("dns", 53))
	a := w.StartAgent()
	w.WaitAccepted("a", "http:8080->8080")
	w.WaitAccepted("b", "p:80->20000")
	w.WaitAccepted("c", "q:81->20001")
	w.WaitAccepted("u", "dns:53->53")
	w.AwaitPass(a, "m")
	return w, a
}

// observe is every port (with its NodePort) of mux m and every ports annotation
// of its channels a, b, c and u: what must not move across a repair.
func observe(w *world.World) string { return observeMux(w, "m", "a", "b", "c", "u") }

func observeMux(w *world.World, muxName string, channels ...string) string {
	mux := w.Service(muxName)
	var lines []string
	for _, p := range mux.Spec.Ports {
		lines = append(lines, fmt.Sprintf("mux %s %d/%s nodePort=%d", p.Name, p.Port, p.Protocol, p.NodePort))
	}
	for _, ch := range channels {
		lines = append(lines, ch+" "+w.Service(ch).Annotations[w.Key("ports")])
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func stateDiff(t *testing.T, name, old, new string) string {
	d := difflib.UnifiedDiff{B: difflib.SplitLines(new), FromFile: name + " (live)", ToFile: name + " (repaired)", Context: 3}
	if old == "" {
		d.FromFile = name + " (missing)"
	} else {
		d.A = difflib.SplitLines(old)
	}
	s, err := difflib.GetUnifiedDiffString(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func updateState(t *testing.T, w *world.World, mutate func(*corev1.ConfigMap)) {
	t.Helper()
	cm := w.State("m")
	mutate(cm)
	if _, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Update(w.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRepairRebuildsCorruptStateAndTheAgentResumesWithZeroPortMoves(t *testing.T) {
	w, a := repairWorld(t)
	ns, name := w.Namespace, world.StateName("m")
	good := w.State("m").Data[world.StateKey]
	var goodDoc world.StateDoc
	if err := json.Unmarshal([]byte(good), &goodDoc); err != nil {
		t.Fatal(err)
	}
	older := func() string {
		var autos []world.Claim
		for _, c := range goodDoc.Allocations {
			autos = append(autos, world.Claim{Namespace: c.Namespace, Service: c.Service, PortName: c.PortName,
				Port: c.Port, Protocol: c.Protocol, Source: c.Source})
		}
		b, _ := json.Marshal(map[string]any{"allocations": autos, "mux": goodDoc.Mux})
		return string(b)
	}
	stale := func() string {
		doc := goodDoc
		doc.PortClaims = append(append([]world.Claim{}, doc.PortClaims...),
			world.Claim{Namespace: ns, Service: "gone", PortName: "p", Port: 20002, MuxPort: 20002, Protocol: "TCP", Source: "auto"},
			world.Claim{Namespace: ns, Service: "a", PortName: "metrics", Port: 9090, MuxPort: 9090, Protocol: "TCP", Source: "static"})
		b, _ := json.MarshalIndent(doc, "", "  ")
		return string(b)
	}
	cases := []struct {
		name     string
		corrupt  func(*corev1.ConfigMap) // nil: delete the ConfigMap
		problems string
	}{
		{"invalid JSON", func(cm *corev1.ConfigMap) { cm.Data[world.StateKey] = `{"portClaims": [` }, "invalid"},
		{"missing", nil, "missing"},
		{"foreign", func(cm *corev1.ConfigMap) { cm.Annotations[w.Key("mux")] = ns + "/other" }, "foreign"},
		{"unlabelled", func(cm *corev1.ConfigMap) { cm.Labels = nil }, "unlabelled"},
		{"older format", func(cm *corev1.ConfigMap) { cm.Data[world.StateKey] = older() }, "older-format"},
		{"stale claims", func(cm *corev1.ConfigMap) { cm.Data[world.StateKey] = stale() }, "stale"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.Stop()
			before := observe(w)
			if tc.corrupt == nil {
				if err := w.Client.CoreV1().ConfigMaps(ns).Delete(w.Context(), name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			} else {
				updateState(t, w, tc.corrupt)
			}
			old := w.State("m")
			oldRaw := ""
			if old != nil {
				oldRaw = old.Data[world.StateKey]
			}
			wantDiff := ""
			if oldRaw != good {
				wantDiff = stateDiff(t, ns+"/"+name, oldRaw, good)
			}

			table := w.Plugin("repair", "m", "-n", ns)
			if table.ExitCode != 0 || !strings.Contains(table.Stdout, wantDiff) || !strings.Contains(table.Stdout, "Dry run: nothing was written") {
				t.Fatalf("repair (dry run) shows the diff and exits 0:\n%s\nwant diff:\n%s", table, wantDiff)
			}
			var plan repairDoc
			w.PluginJSON(&plan, 0, "repair", "m", "-n", ns, "-o", "json")
			wantAction := "update"
			if old == nil {
				wantAction = "create"
			}
			if plan.Kind != "RepairPlan" || plan.State.Action != wantAction || strings.Join(plan.State.Problems, ",") != tc.problems ||
				plan.State.Diff != wantDiff || len(plan.Refused) != 0 {
				t.Fatalf("repair -o json: %+v\nwant action %s, problems %s, diff:\n%s", plan, wantAction, tc.problems, wantDiff)
			}
			if now := w.State("m"); (now == nil) != (old == nil) || (now != nil && now.ResourceVersion != old.ResourceVersion) {
				t.Fatalf("a dry run wrote the state ConfigMap")
			}

			var applied repairDoc
			w.PluginJSON(&applied, 0, "repair", "m", "-n", ns, "--apply", "-o", "json")
			checkWrites(t, w, applied, old)
			if got := w.State("m"); got == nil || got.Data[world.StateKey] != good || got.Labels["app.kubernetes.io/component"] != "mux-state" ||
				got.Annotations[w.Key("mux")] != ns+"/m" {
				t.Fatalf("repaired state ConfigMap: %+v\nwant exactly:\n%s", got, good)
			}

			a = w.StartAgent()
			w.AwaitPass(a, "m")
			if after := observe(w); after != before {
				t.Errorf("a port moved across the repair:\n--- before\n%s\n--- after\n%s", before, after)
			}
			if got := w.State("m").Data[world.StateKey]; got != good {
				t.Errorf("the agent rewrote the repaired state:\n%s", got)
			}
		})
	}
	t.Run("a repair that would move a live port is refused", func(t *testing.T) {
		a.Stop()
		updateState(t, w, func(cm *corev1.ConfigMap) { cm.Data[world.StateKey] = "{" })
		w.SetAnnotation("b", "e2e", w.Key("external-ports"), world.Ptr("p:20005"))
		old := w.State("m")
		res := w.Plugin("repair", "m", "-n", ns, "--apply")
		if res.ExitCode != 1 || !strings.Contains(res.Stdout, "REFUSED  LivePortWouldMove: live mux port 20000/TCP of "+ns+"/b:p would move to 20005/TCP") {
			t.Fatalf("repair --apply refuses with exit 1:\n%s", res)
		}
		var plan repairDoc
		w.PluginJSON(&plan, 1, "repair", "m", "-n", ns, "--apply", "-o", "json")
		if len(plan.Refused) != 1 || plan.Refused[0].Reason != "LivePortWouldMove" || len(plan.Writes) != 0 {
			t.Fatalf("refusal: %+v", plan)
		}
		if now := w.State("m"); now.ResourceVersion != old.ResourceVersion {
			t.Errorf("a refused repair wrote the state")
		}
		if backups := listBackups(t, w); len(backups) != 0 {
			t.Errorf("a refused repair wrote backups %v", backups)
		}

		// Undo the edit: the same repair is now safe.
		w.SetAnnotation("b", "e2e", w.Key("external-ports"), world.Ptr("p:auto"))
		var fixed repairDoc
		w.PluginJSON(&fixed, 0, "repair", "m", "-n", ns, "--apply", "-o", "json")
		checkWrites(t, w, fixed, old)
		if got := w.State("m").Data[world.StateKey]; got != good {
			t.Errorf("state after the undo and repair:\n%s", got)
		}
	})
	t.Run("a state shared with another mux is refused for the mux it does not belong to", func(t *testing.T) {
		// m2 names m's state ConfigMap: the agent reads it as foreign for m2, so m2's
		// static channel v is served but its state is never written.
		a = w.StartAgent()
		w.CreateMux("m2", map[string]string{w.Key("allocation-configmap"): name})
		w.CreateChannel("v", "m2", nil, world.TCP("tcp", 7000))
		w.WaitAccepted("v", "tcp:7000->7000")
		w.AwaitPass(a, "m2")
		a.Stop()
		before, before2 := observe(w), observeMux(w, "m2", "v")

		var plan repairDoc
		w.PluginJSON(&plan, 1, "repair", "m2", "-n", ns, "--apply", "-o", "json")
		if len(plan.Refused) != 1 || plan.Refused[0].Reason != "SharedStateConfigMap" || strings.Join(plan.State.Problems, ",") != "foreign,shared" ||
			plan.State.Action != "none" || plan.State.Diff != "" || len(plan.Writes) != 0 {
			t.Fatalf("shared: %+v", plan)
		}
		// The mux it belongs to has nothing to repair.
		var owner repairDoc
		w.PluginJSON(&owner, 0, "repair", "m", "-n", ns, "-o", "json")
		if owner.State.Action != "none" || len(owner.Refused) != 0 {
			t.Errorf("owner mux: %+v", owner)
		}
		// The fix the refusal names: m2 gets its own state ConfigMap, which repair
		// creates from m2's live port.
		w.SetAnnotation("m2", "e2e", w.Key("allocation-configmap"), world.Ptr("m2-port-allocations"))
		var own repairDoc
		w.PluginJSON(&own, 0, "repair", "m2", "-n", ns, "--apply", "-o", "json")
		if own.State.Action != "create" || len(own.Writes) != 1 || len(own.Kept) != 1 || own.Kept[0].Evidence != "mux-port" {
			t.Fatalf("m2 after the fix: %+v", own)
		}
		created := w.ConfigMap("m2-port-allocations")
		a = w.StartAgent()
		w.AwaitPass(a, "m")
		w.AwaitPass(a, "m2")
		if after, after2 := observe(w), observeMux(w, "m2", "v"); after != before || after2 != before2 {
			t.Errorf("a port moved:\n%s\n%s\n--- after\n%s\n%s", before, before2, after, after2)
		}
		if got := w.ConfigMap("m2-port-allocations"); got.ResourceVersion != created.ResourceVersion {
			t.Errorf("the agent rewrote m2's repaired state:\n%s", got.Data[world.StateKey])
		}
	})
}

// checkWrites: the old state is saved first (a backup the agent does not read),
// then the new one is written with the resourceVersion read (or created).
func checkWrites(t *testing.T, w *world.World, applied repairDoc, old *corev1.ConfigMap) {
	t.Helper()
	name := world.StateName("m")
	var got []string
	for _, wr := range applied.Writes {
		got = append(got, wr.Verb+" "+wr.Object.Kind+" "+wr.Object.Name+" "+wr.Precondition+wr.Error)
	}
	if old == nil {
		if strings.Join(got, "\n") != "create ConfigMap "+name+" " {
			t.Fatalf("writes of a missing state: %q", got)
		}
		return
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "create ConfigMap "+name+"-backup-") || got[1] != "update ConfigMap "+name+" "+old.ResourceVersion {
		t.Fatalf("writes: %q, want the backup first, then the update at resourceVersion %s", got, old.ResourceVersion)
	}
	backup := w.ConfigMap(applied.Writes[0].Object.Name)
	if backup == nil || backup.Data[world.StateKey] != old.Data[world.StateKey] || backup.Labels["app.kubernetes.io/component"] == "mux-state" {
		t.Fatalf("backup %+v holds the old state and is not labelled as state", backup)
	}
	// Backup names have a one-second clock: clear them so the next case starts clean.
	if err := w.Client.CoreV1().ConfigMaps(w.Namespace).Delete(w.Context(), backup.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func listBackups(t *testing.T, w *world.World) []string {
	l, err := w.Client.CoreV1().ConfigMaps(w.Namespace).List(w.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=mux-state-backup"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cm := range l.Items {
		out = append(out, cm.Name)
	}
	return out
}
