package plugin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nowakeai/svcmux/test/world"
)

// topologyDoc is `kubectl svcmux topology -o json` as SPEC §8 states it,
// written here from the contract (not pkg/cli's types) so a renamed field
// fails the test.
type topologyDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Muxes      []struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
		Address   string `json:"address"`
		Limit     int    `json:"limit"`
		PortRange string `json:"portRange"`
		State     string `json:"state"`
		Channels  []struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			Status    string `json:"status"`
			Reason    string `json:"reason"`
			Message   string `json:"message"`
			Ports     []struct {
				Name     string `json:"name"`
				Port     int32  `json:"port"`
				MuxPort  int32  `json:"muxPort"`
				Protocol string `json:"protocol"`
				NodePort int32  `json:"nodePort"`
			} `json:"ports"`
			Backends struct {
				Ready int `json:"ready"`
				Total int `json:"total"`
			} `json:"backends"`
		} `json:"channels"`
	} `json:"muxes"`
}

func TestTopologyShowsBothAcceptedChannelsOfAMux(t *testing.T) {
	w := world.New(t)
	w.CreateMux("mux", map[string]string{w.Key("port-range"): "20000-20009"})
	w.CreateChannel("api", "mux", nil, world.TCP("http", 8080))
	w.CreateChannel("web", "mux", w.ExternalPorts("https:auto"), world.TCP("https", 443))
	w.StartAgent()
	w.WaitAccepted("api", "http:8080->8080")
	w.WaitAccepted("web", "https:443->20000")

	var doc topologyDoc
	res := w.PluginJSON(&doc, 0, "topology", "-n", w.Namespace, "-o", "json")
	if doc.Kind != "Topology" || doc.APIVersion != "svcmux.nowake.ai/v1alpha1" {
		t.Errorf("document is %s %s, want svcmux.nowake.ai/v1alpha1 Topology", doc.APIVersion, doc.Kind)
	}
	var muxes []string
	got := map[string]string{} // channel ns/name → status ports
	for _, m := range doc.Muxes {
		muxes = append(muxes, m.Namespace+"/"+m.Name)
		if m.Namespace != w.Namespace || m.Name != "mux" {
			continue
		}
		for _, c := range m.Channels {
			var ports []string
			for _, p := range c.Ports {
				ports = append(ports, fmt.Sprintf("%s:%d->%d/%s", p.Name, p.Port, p.MuxPort, p.Protocol))
			}
			got[c.Namespace+"/"+c.Name] = c.Status + " " + strings.Join(ports, ",")
		}
	}
	want := map[string]string{
		w.Ref("api"): "Accepted http:8080->8080/TCP",
		w.Ref("web"): "Accepted https:443->20000/TCP",
	}
	for ref, wantStatus := range want {
		if got[ref] != wantStatus {
			t.Errorf("channel %s: %q, want %q (muxes %v, channels %v)\n%s", ref, got[ref], wantStatus, muxes, got, res)
		}
	}
	if len(got) != len(want) {
		t.Errorf("channels %v, want exactly %v", got, want)
	}
}
