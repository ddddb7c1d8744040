package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNewKeysDerivesEveryKeyFromThePrefix(t *testing.T) {
	defaults := Keys{
		Prefix:                   "svc-mux.nowake.ai",
		Multiplexer:              "svc-mux.nowake.ai/multiplexer",
		PortRange:                "svc-mux.nowake.ai/port-range",
		MaxPorts:                 "svc-mux.nowake.ai/max-ports",
		AllocationConfigMap:      "svc-mux.nowake.ai/allocation-configmap",
		AllowedNamespaces:        "svc-mux.nowake.ai/allowed-namespaces",
		AllowedNamespaceSelector: "svc-mux.nowake.ai/allowed-namespace-selector",
		ExternalPorts:            "svc-mux.nowake.ai/external-ports",
		ExternalDNSHostname:      "svc-mux.nowake.ai/external-dns-hostname",
		Ports:                    "svc-mux.nowake.ai/ports",
		Channels:                 "svc-mux.nowake.ai/channels",
		Topology:                 "svc-mux.nowake.ai/topology",
		Summary:                  "svc-mux.nowake.ai/summary",
		AggregatedExternalDNS:    "svc-mux.nowake.ai/aggregated-external-dns",
		Managed:                  "svc-mux.nowake.ai/managed",
		Mux:                      "svc-mux.nowake.ai/mux",
		Finalizer:                "svc-mux.nowake.ai/finalizer",
		AcceptedCondition:        "svc-mux.nowake.ai/Accepted",
	}
	custom := Keys{
		Prefix:                   "lb.example.com",
		Multiplexer:              "lb.example.com/multiplexer",
		PortRange:                "lb.example.com/port-range",
		MaxPorts:                 "lb.example.com/max-ports",
		AllocationConfigMap:      "lb.example.com/allocation-configmap",
		AllowedNamespaces:        "lb.example.com/allowed-namespaces",
		AllowedNamespaceSelector: "lb.example.com/allowed-namespace-selector",
		ExternalPorts:            "lb.example.com/external-ports",
		ExternalDNSHostname:      "lb.example.com/external-dns-hostname",
		Ports:                    "lb.example.com/ports",
		Channels:                 "lb.example.com/channels",
		Topology:                 "lb.example.com/topology",
		Summary:                  "lb.example.com/summary",
		AggregatedExternalDNS:    "lb.example.com/aggregated-external-dns",
		Managed:                  "lb.example.com/managed",
		Mux:                      "lb.example.com/mux",
		Finalizer:                "lb.example.com/finalizer",
		AcceptedCondition:        "lb.example.com/Accepted",
	}
	tests := []struct {
		name        string
		prefix      string
		want        Keys
		classPrefix string
	}{
		{"an empty prefix means the Python controller's default", "", defaults, "svc-mux.nowake.ai/"},
		{"a blank prefix means the default too", " \t\n ", defaults, "svc-mux.nowake.ai/"},
		{"the default prefix spelled out gives the same keys", DefaultPrefix, defaults, "svc-mux.nowake.ai/"},
		{"a custom prefix moves every key", "lb.example.com", custom, "lb.example.com/"},
		{"a custom prefix is trimmed of surrounding whitespace", "  lb.example.com ", custom, "lb.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := NewKeys(tt.prefix)
			assert.Equal(t, tt.want, k)
			assert.Equal(t, tt.classPrefix, k.ClassPrefix())
		})
	}
}

func TestMuxRefPrintsAsNamespaceSlashName(t *testing.T) {
	assert.Equal(t, "svc-mux/mux", MuxRef{Namespace: "svc-mux", Name: "mux"}.String())
}

func TestSharedConstantsKeepThePythonControllersNames(t *testing.T) {
	// These names are read by the Python controller's users and by GKE detection:
	// changing one is a breaking change, so each is pinned here.
	assert.Equal(t, "svc-mux.nowake.ai", DefaultPrefix)
	assert.Equal(t, "svcmux", FieldManager)
	assert.Equal(t, "svcmux.nowake.ai", EndpointSliceManagedBy)
	assert.NotEqual(t, "endpointslice-controller.k8s.io", EndpointSliceManagedBy, "never the cluster's own controller name")
	assert.Equal(t, []string{"external-dns.alpha.kubernetes.io/hostname", "external-dns.alpha.kubernetes.io/cloudflare-proxied"},
		AggregatedExternalDNSKeys)
	assert.Equal(t, "networking.gke.io/", GKEClassPrefix)
	assert.Equal(t, 100, GKEMaxPorts)
	assert.Equal(t, []string{"cloud.google.com/l4-rbs", "networking.gke.io/load-balancer-type", "networking.gke.io/load-balancer-ip-addresses"},
		GKEAnnotations)
	assert.Equal(t, "allocations.json", StateKey)
	assert.Equal(t, "svc-lb-mux", AppName)
	assert.Equal(t, "mux-state", ComponentMuxState)
	assert.Equal(t, "mux-endpoints", ComponentMuxEndpoints)
	assert.Equal(t, "endpointslice.kubernetes.io/skip-mirror", LabelSkipMirror)
	assert.Equal(t, "placeholder", PlaceholderPortName)
	assert.Equal(t, 101, PlaceholderPort)
	assert.Equal(t, 100, MaxEndpointsPerSlice)
	assert.Equal(t, "Warning", EventWarning)
	assert.Equal(t, "Normal", EventNormal)
	assert.Equal(t, "MuxExternalDnsAnnotationConflict", ReasonMuxExternalDNSAnnotationConflict)
}
