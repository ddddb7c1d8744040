package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// tenantChannel creates a one-port channel of the mux in w.Namespace, from the
// namespace of in (tenancy puts channels beside, not inside, the mux's namespace).
func tenantChannel(t *testing.T, w, in *world.World, name string, port int32) {
	t.Helper()
	ch := w.ChannelObject(name, "mux", nil, world.TCP("http", port))
	ch.Namespace = in.Namespace
	ch.Spec.AllocateLoadBalancerNodePorts = world.Ptr(false)
	w.CreateService(ch)
}

// ok fails the test on a World E-function's error: ok(t)(w.WaitAcceptedE(…)).
func ok(t *testing.T) func(*corev1.Service, error) *corev1.Service {
	return func(svc *corev1.Service, err error) *corev1.Service {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
}

// SPEC §10, who may attach: a mux allowing "<ns>-team-*" serves the channel in
// <ns>-team-a and refuses the one in <ns>-other, naming the mux, the rule and the
// fix. An unparsable rule keeps the last good ports; dropping team-* from the
// rule detaches team-a and frees its port.
func TestAMuxAllowingTeamNamespacesServesThemAndARevokedNamespaceLosesItsPorts(t *testing.T) {
	w := world.New(t)
	team, other := w.Sibling("team-a", nil), w.Sibling("other", nil)
	rule := w.Namespace + "-team-*"
	w.CreateMux("mux", map[string]string{w.Key("allowed-namespaces"): rule})
	tenantChannel(t, w, team, "api", 8080)
	tenantChannel(t, w, other, "web", 9090)
	a := w.StartAgent()

	ok(t)(team.WaitAcceptedE("api", "http:8080->8080"))
	refusal := fmt.Sprintf("channel %s: namespace %s may not attach to mux %s (%s=%q); ask the mux owner to add it to %s, or use another mux",
		other.Ref("web"), other.Namespace, w.Ref("mux"), w.Key("allowed-namespaces"), rule, w.Key("allowed-namespaces"))
	got := ok(t)(other.WaitRejectedE("web", "NamespaceNotAllowed", refusal))
	if v, has := got.Annotations[w.Key("ports")]; has {
		t.Errorf("refused %s has a ports annotation %q", other.Ref("web"), v)
	}
	if _, err := other.WaitEventE("web", corev1.EventTypeWarning, "NamespaceNotAllowed", refusal); err != nil {
		t.Fatal(err)
	}
	served := team.MuxPort("api", "http", 8080)
	w.WaitMuxPorts("mux", served)

	// A rule that does not parse: the mux keeps its last good ports and says why.
	w.SetAnnotation("mux", "e2e", w.Key("allowed-namespaces"), world.Ptr("Team_A"))
	invalid := fmt.Sprintf(`mux %s: annotation %s: "Team_A": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"; the mux keeps its current ports, endpoints and state until it is fixed`,
		w.Ref("mux"), w.Key("allowed-namespaces"))
	w.WaitEvent("mux", corev1.EventTypeWarning, "InvalidAllowedNamespaces", invalid)
	w.AwaitPass(a, "mux")
	w.WaitMuxPorts("mux", served)
	ok(t)(team.WaitAcceptedE("api", "http:8080->8080"))

	// Revoked: team-a is no longer admitted; its port and claim go.
	w.SetAnnotation("mux", "e2e", w.Key("allowed-namespaces"), world.Ptr(w.Namespace+"-team-b"))
	ok(t)(team.WaitRejectedE("api", "NamespaceNotAllowed", "may not attach to mux "+w.Ref("mux")))
	w.WaitMuxPorts("mux", world.Placeholder)
	w.WaitState("mux", func(cm *corev1.ConfigMap) bool {
		doc, err := world.DecodeState(cm)
		return err == nil && len(doc.PortClaims) == 0
	})
}

// A selector rule follows Namespace label edits (the agent watches Namespaces
// with --namespace-selector): labelled, the channel is served; unlabelled, it is
// refused and its port freed; labelled again, served again on the same port.
func TestASelectorRuleFollowsNamespaceLabelEdits(t *testing.T) {
	w := world.New(t)
	label := "svcmux.e2e/tenant"
	tenant := w.Sibling("tenant", map[string]string{label: "yes"})
	w.CreateMux("mux", map[string]string{w.Key("allowed-namespace-selector"): label + "=yes"})
	tenantChannel(t, w, tenant, "api", 8080)
	w.StartAgent("--namespace-selector=true")

	ok(t)(tenant.WaitAcceptedE("api", "http:8080->8080"))
	w.WaitMuxPorts("mux", tenant.MuxPort("api", "http", 8080))

	tenant.LabelNamespace(map[string]*string{label: nil})
	ok(t)(tenant.WaitRejectedE("api", "NamespaceNotAllowed", "may not attach to mux "+w.Ref("mux")))
	w.WaitMuxPorts("mux", world.Placeholder)

	tenant.LabelNamespace(map[string]*string{label: world.Ptr("yes")})
	ok(t)(tenant.WaitAcceptedE("api", "http:8080->8080"))
	w.WaitMuxPorts("mux", tenant.MuxPort("api", "http", 8080))
}

// Without --namespace-selector the agent does not watch Namespaces: a selector
// mux is frozen with a message saying how to turn it on, and serves what it had.
func TestASelectorMuxWithoutNamespaceWatchingIsFrozenWithTheFix(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("allowed-namespace-selector"): "team=a"})
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	a := w.StartAgent()
	msg := fmt.Sprintf("mux %s: annotation %s needs Namespace labels, and the agent does not watch Namespaces; install the chart with agent.namespaceSelector=true (agent flag --namespace-selector), or use %s; the mux keeps its current ports, endpoints and state until it is fixed",
		w.Ref("mux"), w.Key("allowed-namespace-selector"), w.Key("allowed-namespaces"))
	w.WaitEvent("mux", corev1.EventTypeWarning, "InvalidAllowedNamespaces", msg)
	w.AwaitPass(a, "mux")
	if ports := world.PortsOf(w.Service("mux")); len(ports) != 1 || ports[0].Name != "placeholder" {
		t.Errorf("a frozen mux changed its ports: %v", ports)
	}
	if _, has := w.Service("api").Annotations[w.Key("ports")]; has {
		t.Errorf("a channel of a frozen mux got a ports annotation")
	}
}
