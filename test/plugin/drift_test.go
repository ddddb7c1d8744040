package plugin

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/test/world"
)

// driftDoc is `kubectl svcmux drift -o json` as SPEC §8 states it, written here
// from the contract (not pkg/cli's types) so a renamed field fails the test.
type driftDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Drifts     []struct {
		Object      string  `json:"object"`
		Field       string  `json:"field"`
		Desired     string  `json:"desired"`
		Live        string  `json:"live"`
		Manager     string  `json:"manager"`
		Operation   string  `json:"operation"`
		Subresource string  `json:"subresource"`
		Time        *string `json:"time"`
		Writer      string  `json:"writer"`
	} `json:"drifts"`
}

// rows are the drifts as "object field writer manager operation: desired -> live", sorted.
func (d driftDoc) rows() []string {
	out := []string{}
	for _, x := range d.Drifts {
		op := x.Operation
		if x.Subresource != "" {
			op += "/" + x.Subresource
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %s: %s -> %s", x.Object, x.Field, x.Writer, x.Manager, op, x.Desired, x.Live))
	}
	sort.Strings(out)
	return out
}

func TestDriftNamesEachWriterUntilTheAgentRestarts(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("web", "mux", w.ExternalPorts("https:auto"), world.TCP("https", 443))
	a := w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitAccepted("web", "https:443->20000")
	w.AwaitPass(a, "mux")
	scope := []string{"drift", "-n", w.Namespace}

	var doc driftDoc
	res := w.PluginJSON(&doc, 0, append(scope, "-o", "json")...)
	if doc.Kind != "DriftReport" || doc.APIVersion != "svcmux.nowake.ai/v1alpha1" || len(doc.Drifts) != 0 {
		t.Fatalf("a converged mux: want an empty svcmux.nowake.ai/v1alpha1 DriftReport\n%s", res)
	}

	a.Stop()
	w.UpdateService("mux", world.ManagerArgoCD, func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
	})
	w.SetAnnotation("api", world.ManagerKubectlClient, w.Key("ports"), world.Ptr("http:8080->20005"))
	// A third writer edits web's Accepted condition through the status subresource
	// (a strategic merge by condition type keeps the rest of the agent's condition).
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":%q,"reason":"Edited","message":"by hand"}]}}`, w.Key("Accepted"))
	if _, err := w.ClientAs("kubectl-edit").CoreV1().Services(w.Namespace).Patch(w.Context(), "web", types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("edit web's condition as kubectl-edit: %v", err)
	}

	doc = driftDoc{}
	res = w.PluginJSON(&doc, 1, append(scope, "-o", "json")...)
	api, web := world.PortName(w.Namespace, "api", "http"), world.PortName(w.Namespace, "web", "https")
	want := []string{
		fmt.Sprintf("service/%s/api metadata.annotations[%s] kubectl kubectl-client-side-apply Update: http:8080->8080 -> http:8080->20005",
			w.Namespace, w.Key("ports")),
		fmt.Sprintf("service/%s/mux spec.ports gitops argocd-controller Update: %s:8080/TCP, %s:20000/TCP -> placeholder:101/TCP",
			w.Namespace, api, web),
		fmt.Sprintf("service/%[1]s/web status.conditions[type=%[2]s] kubectl kubectl-edit Update/status: "+
			"True Accepted (generation %[3]d): channel %[1]s/web is served by mux %[1]s/mux: https:443->20000 -> True Edited (generation %[3]d): by hand",
			w.Namespace, w.Key("Accepted"), w.Service("web").Generation),
	}
	if got := doc.rows(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drifts with the agent stopped:\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res)
	}
	for _, d := range doc.Drifts {
		if d.Time == nil {
			t.Errorf("drift %s %s: no time; want the time of the managedFields entry", d.Object, d.Field)
		}
	}
	table := w.Plugin(scope...)
	if table.ExitCode != 1 || !strings.Contains(table.Stdout, "argocd-controller") || !strings.Contains(table.Stdout, "kubectl-client-side-apply") {
		t.Errorf("the table: want exit 1 naming both managers\n%s", table)
	}
	t.Logf("drift with the agent stopped:\n%s\n%s", table.Stdout, w.Plugin(append(scope, "-o", "wide")...).Stdout)

	a = w.StartAgent()
	w.WaitMuxPorts("mux", w.MuxPort("api", "http", 8080), w.MuxPort("web", "https", 20000))
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitAccepted("web", "https:443->20000")
	w.AwaitPass(a, "mux")
	doc = driftDoc{}
	res = w.PluginJSON(&doc, 0, append(scope, "-o", "json")...)
	if len(doc.Drifts) != 0 {
		t.Errorf("after the agent restarted: want no drift\n%s", res)
	}
	table = w.Plugin(scope...)
	if table.ExitCode != 0 {
		t.Errorf("the table after the agent restarted: want exit 0\n%s", table)
	}
	t.Logf("drift after the agent restarted:\n%s", table.Stdout)
}
