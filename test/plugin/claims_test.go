package plugin

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/test/world"
)

// claimsDoc is `kubectl svcmux claims -o json` as SPEC §8 states it.
type claimsDoc struct {
	Kind   string `json:"kind"`
	Claims []struct {
		Mux       string `json:"mux"`
		Port      int32  `json:"port"`
		Protocol  string `json:"protocol"`
		Namespace string `json:"namespace"`
		Service   string `json:"service"`
		PortName  string `json:"portName"`
		Source    string `json:"source"`
		Status    string `json:"status"`
		Detail    string `json:"detail"`
	} `json:"claims"`
}

// rewriteState replaces a mux's state document with claims (the agent must be stopped).
func rewriteState(t *testing.T, w *world.World, mux string, annotateFor string, claims ...world.Claim) {
	t.Helper()
	cm := w.State(mux)
	var doc world.StateDoc
	doc.Mux.Name, doc.Mux.Namespace = mux, w.Namespace
	doc.Allocations, doc.PortClaims, doc.SchemaVersion = []world.Claim{}, claims, 1
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[world.StateKey] = string(raw)
	if annotateFor != "" {
		cm.Annotations[w.Key("mux")] = annotateFor
	}
	if _, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Update(w.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestClaimsFlagsEachProblemKindOnASeededCluster(t *testing.T) {
	w := world.New(t)
	w.CreateMux("m", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateMux("f", nil)
	w.CreateChannel("a", "m", nil, world.TCP("http", 8080))
	w.CreateChannel("b", "m", w.ExternalPorts("p:auto"), world.TCP("p", 80))
	w.CreateChannel("c", "m", nil, world.TCP("p", 9000))
	w.CreateChannel("z", "f", nil, world.TCP("p", 7000))
	a := w.StartAgent()
	w.WaitAccepted("a", "http:8080->8080")
	w.WaitAccepted("b", "p:80->20000")
	w.WaitAccepted("c", "p:9000->9000")
	w.WaitAccepted("z", "p:7000->7000")
	w.AwaitPass(a, "m")
	w.AwaitPass(a, "f")
	a.Stop()

	ns := w.Namespace
	claim := func(svc, port string, channelPort, muxPort int32, source string) world.Claim {
		return world.Claim{ChannelPort: channelPort, MuxPort: muxPort, Port: muxPort, Namespace: ns, PortName: port,
			Protocol: "TCP", Service: svc, Source: source}
	}
	// a: ok; b: the claim says 20005, the live mux and annotation 20000 (mismatch);
	// c: no claim (unclaimed); gone: stale; far: out of range; x and y share 9100.
	w.CreateChannel("far", "m", w.ExternalPorts("p:auto"), world.TCP("p", 81))
	w.CreateChannel("x", "m", nil, world.TCP("p", 9100))
	w.CreateChannel("y", "m", w.ExternalPorts("p:9100"), world.TCP("p", 82))
	rewriteState(t, w, "m", "", claim("a", "http", 8080, 8080, "static"), claim("b", "p", 80, 20005, "auto"),
		claim("far", "p", 81, 30000, "auto"), claim("gone", "p", 80, 20001, "auto"),
		claim("x", "p", 9100, 9100, "static"), claim("y", "p", 82, 9100, "static"))
	rewriteState(t, w, "f", ns+"/other", claim("z", "p", 7000, 7000, "static"))

	var doc claimsDoc
	res := w.PluginJSON(&doc, 1, "claims", "-n", ns, "-o", "json")
	var got []string
	for _, c := range doc.Claims {
		got = append(got, strings.TrimPrefix(c.Mux, ns+"/")+" "+c.Service+" "+c.Status)
	}
	sort.Strings(got)
	want := []string{"f z foreign", "m a ok", "m b mismatch", "m c unclaimed", "m far out-of-range", "m gone stale", "m x duplicate", "m y duplicate"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("claims rows:\n%s\nwant:\n%s\nrun: %s", strings.Join(got, "\n"), strings.Join(want, "\n"), res)
	}
	table := w.Plugin("claims", "m", "-n", ns)
	if table.ExitCode != 1 || !strings.Contains(table.Stdout, "STATUS") {
		t.Errorf("claims in table mode exits 1 on the same problems: %s", table)
	}
}

func TestWhoHasFindsAPortsOwnerOnEachMuxAndSaysWhenItIsFree(t *testing.T) {
	w := world.New(t)
	w.CreateMux("m1", nil)
	w.CreateMux("m2", nil)
	w.CreateChannel("x", "m1", nil, world.TCP("https", 443))
	w.CreateChannel("y", "m2", w.ExternalPorts("tls:443"), world.TCP("tls", 8443))
	w.CreateChannel("u", "m2", nil, world.UDP("dns", 53))
	a := w.StartAgent()
	w.WaitAccepted("x", "https:443->443")
	w.WaitAccepted("y", "tls:8443->443")
	w.WaitAccepted("u", "dns:53->53")
	w.AwaitPass(a, "m2")

	ns := w.Namespace
	var doc struct {
		Kind   string `json:"kind"`
		Owners []struct {
			Mux, Service, PortName, Source, Protocol string
			Port                                     int32
		} `json:"owners"`
		Free []string `json:"free"`
	}
	w.PluginJSON(&doc, 0, "who-has", "443", "-n", ns, "-o", "json")
	var got []string
	for _, o := range doc.Owners {
		got = append(got, strings.TrimPrefix(o.Mux, ns+"/")+" "+o.Service+":"+o.PortName+" "+o.Protocol+" "+o.Source)
	}
	if doc.Kind != "WhoHas" || strings.Join(got, ",") != "m1 x:https TCP static,m2 y:tls TCP static" || len(doc.Free) != 0 {
		t.Errorf("who-has 443: %s %v free %v", doc.Kind, got, doc.Free)
	}
	res := w.Plugin("who-has", "53", "-n", ns)
	if res.ExitCode != 0 || res.Stdout != "53/TCP is free on every mux in scope (2 mux(es)).\n" {
		t.Errorf("53/TCP is held by nobody (only 53/UDP is): %s", res)
	}
	w.PluginJSON(&doc, 0, "who-has", "53/UDP", "-n", ns, "-o", "json")
	if len(doc.Owners) != 1 || doc.Owners[0].Service != "u" || len(doc.Free) != 1 || doc.Free[0] != ns+"/m1" {
		t.Errorf("who-has 53/UDP: %+v", doc)
	}
}
