// Package api holds svcmux's surface on the cluster: the annotation keys derived
// from the configurable prefix, the loadBalancerClass reference, labels, event
// reasons and the field manager name. Constants live here once.
package api

import "strings"

// DefaultPrefix is the annotation prefix the Python controller svc-lb-mux uses.
const DefaultPrefix = "svc-mux.nowake.ai"

// Keys are the annotation, finalizer and condition names under one prefix.
// Build them with NewKeys; never hard-code the default prefix elsewhere.
type Keys struct {
	Prefix string

	// Mux annotations written by users.
	Multiplexer         string // "true" marks a mux
	PortRange           string // ranges for name:auto
	MaxPorts            string // port limit
	AllocationConfigMap string // state ConfigMap name override
	// Who may attach (SPEC §10): namespace names and trailing-* globs, and a
	// label selector on Namespace labels. Neither set: every namespace.
	AllowedNamespaces        string
	AllowedNamespaceSelector string

	// Channel annotations written by users.
	ExternalPorts       string // name:port|auto mapping
	ExternalDNSHostname string // hostnames aggregated onto the mux

	// Written by the agent.
	Ports                 string // channel: name:port->mux
	Channels              string // mux and endpoints: JSON list of attached channels
	Topology              string // mux: readable picture
	Summary               string // mux: one line
	AggregatedExternalDNS string // mux: which external-dns keys the agent owns
	Managed               string // endpoints: "true"
	Mux                   string // endpoints and state ConfigMap: ns/name

	// Finalizer is the Python controller's leftover, stripped by svcmux.
	Finalizer string
	// AcceptedCondition is the channel status condition type.
	AcceptedCondition string
}

// NewKeys derives every key from prefix; an empty or blank prefix means DefaultPrefix.
func NewKeys(prefix string) Keys {
	prefix = strings.TrimSpace(prefix)
	if prefix == "" {
		prefix = DefaultPrefix
	}
	k := func(name string) string { return prefix + "/" + name }
	return Keys{
		Prefix:                   prefix,
		Multiplexer:              k("multiplexer"),
		PortRange:                k("port-range"),
		MaxPorts:                 k("max-ports"),
		AllocationConfigMap:      k("allocation-configmap"),
		AllowedNamespaces:        k("allowed-namespaces"),
		AllowedNamespaceSelector: k("allowed-namespace-selector"),
		ExternalPorts:            k("external-ports"),
		ExternalDNSHostname:      k("external-dns-hostname"),
		Ports:                    k("ports"),
		Channels:                 k("channels"),
		Topology:                 k("topology"),
		Summary:                  k("summary"),
		AggregatedExternalDNS:    k("aggregated-external-dns"),
		Managed:                  k("managed"),
		Mux:                      k("mux"),
		Finalizer:                k("finalizer"),
		AcceptedCondition:        k("Accepted"),
	}
}

// ClassPrefix is what a channel's loadBalancerClass starts with.
func (k Keys) ClassPrefix() string { return k.Prefix + "/" }

// External-dns keys the agent aggregates onto the mux, in the order it lists them.
const (
	ExternalDNSHostname          = "external-dns.alpha.kubernetes.io/hostname"
	ExternalDNSCloudflareProxied = "external-dns.alpha.kubernetes.io/cloudflare-proxied"
)

// AggregatedExternalDNSKeys is the stable order of the keys in <prefix>/aggregated-external-dns.
var AggregatedExternalDNSKeys = []string{ExternalDNSHostname, ExternalDNSCloudflareProxied}

// GKE detection (SPEC §3).
const (
	GKEClassPrefix = "networking.gke.io/"
	GKEMaxPorts    = 100
)

// GKEAnnotations mark a mux as GKE-backed.
var GKEAnnotations = []string{
	"cloud.google.com/l4-rbs",
	"networking.gke.io/load-balancer-type",
	"networking.gke.io/load-balancer-ip-addresses",
}

// Field manager and controller identity.
const (
	// FieldManager is the one stable manager name of every agent write.
	FieldManager = "svcmux"
	// EndpointSliceManagedBy is the value of endpointslice.kubernetes.io/managed-by
	// on mux slices: never the cluster's own controller name.
	EndpointSliceManagedBy = "svcmux.nowake.ai"
	// PreviousFieldManagers are the Python controller's field managers.
	PreviousFieldManagerKr8s = "kr8s"
	PreviousFieldManagerKopf = "kopf"
)

// Labels shared with the Python controller (the state ConfigMap and Endpoints keep them).
const (
	LabelName               = "app.kubernetes.io/name"
	LabelComponent          = "app.kubernetes.io/component"
	LabelManagedBy          = "app.kubernetes.io/managed-by"
	AppName                 = "svc-lb-mux"
	ComponentMuxState       = "mux-state"
	ComponentMuxEndpoints   = "mux-endpoints"
	LabelServiceName        = "kubernetes.io/service-name"
	LabelSliceManagedBy     = "endpointslice.kubernetes.io/managed-by"
	LabelSkipMirror         = "endpointslice.kubernetes.io/skip-mirror"
	StateKey                = "allocations.json"
	PlaceholderPortName     = "placeholder"
	PlaceholderPort         = 101
	MaxAnnotationBytes      = 128 * 1024
	HardAnnotationBytes     = 248 * 1024
	MaxEndpointsPerSlice    = 100
	ConditionReasonAccepted = "Accepted"
)
