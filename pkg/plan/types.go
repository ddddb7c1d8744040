// Package plan is svcmux's pure core: from a snapshot of one mux, its channels,
// their endpoints and the persisted state it computes the Plan — what the mux,
// its endpoints, its channels and its state ConfigMap should look like, and the
// Events that explain it. No API calls, no clock, no logger: the agent applies a
// Plan and the kubectl plugin shows and compares it, so both see one truth.
package plan

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

// EndpointsMode selects which endpoint objects the agent writes for a mux (SPEC §6).
type EndpointsMode string

const (
	EndpointsModeSlices    EndpointsMode = "slices"
	EndpointsModeEndpoints EndpointsMode = "endpoints"
	EndpointsModeBoth      EndpointsMode = "both"
)

// Valid reports whether m is one of the three modes.
func (m EndpointsMode) Valid() bool {
	return m == EndpointsModeSlices || m == EndpointsModeEndpoints || m == EndpointsModeBoth
}

func (m EndpointsMode) slices() bool    { return m != EndpointsModeEndpoints }
func (m EndpointsMode) endpoints() bool { return m == EndpointsModeEndpoints || m == EndpointsModeBoth }

// Options are the settings a plan depends on besides the cluster objects.
type Options struct {
	Keys api.Keys
	// DefaultMuxNamespace is where a class without ".<namespace>" points.
	DefaultMuxNamespace string
	// EndpointsMode defaults to slices when empty.
	EndpointsMode EndpointsMode
	// Now stamps a condition whose status flips; passing it in keeps Compute pure.
	Now metav1.Time
	// StateCache, when set, remembers decoded state documents across passes (the
	// agent keeps one); it changes no result, only the cost of a steady pass.
	StateCache *state.Cache
	// Cache, when set, remembers across passes what is derived from each channel
	// alone (the agent keeps one); like StateCache it changes no result.
	Cache *Cache
}

// Snapshot is everything Compute reads for one mux. The objects are never mutated.
type Snapshot struct {
	Mux *corev1.Service
	// Channels attached to Mux: Services of type LoadBalancer whose class names it.
	Channels []*corev1.Service
	// ChannelSlices are the EndpointSlices of those channels (label kubernetes.io/service-name).
	ChannelSlices []*discoveryv1.EndpointSlice
	// MuxSlices are the live EndpointSlices labelled with the mux's service name.
	MuxSlices []*discoveryv1.EndpointSlice
	// MuxEndpoints is the live core/v1 Endpoints named like the mux, nil when absent.
	MuxEndpoints *corev1.Endpoints
	// StateConfigMap is the mux's state ConfigMap, nil when absent.
	StateConfigMap *corev1.ConfigMap
	// Namespaces are the labels of the channels' namespaces, by name. Read only
	// for a mux with <prefix>/allowed-namespace-selector; nil means the reader
	// does not watch Namespaces (the mux is then frozen with a message saying so).
	Namespaces map[string]map[string]string
	// NodePortHolder names the other Service ("ns/name") holding a NodePort, ""
	// when none does. Compute asks it only for the remembered NodePorts of ports it
	// restores, so a steady pass costs nothing; pkg/snapshot answers from an index
	// of its cache. Nil: every NodePort is taken as free (the API server decides).
	NodePortHolder func(nodePort int32) string
}

// ObjectRef names the object an outcome or Event is about.
type ObjectRef struct {
	Kind      string
	Namespace string
	Name      string
	UID       types.UID
}

// String is "namespace/name".
func (r ObjectRef) String() string { return r.Namespace + "/" + r.Name }

// Event is one Kubernetes Event the pass stands behind. The agent posts it once per
// distinct (object, reason, message); identical events are not re-posted every pass.
type Event struct {
	Object    ObjectRef
	Type      string
	Reason    string
	Message   string
	FieldPath string
}

// Plan is the desired state of one mux and everything around it. A Plan may share
// read-only parts (endpoint addresses, references) with its Snapshot: treat both as
// immutable; DeepCopy before changing anything.
type Plan struct {
	Mux ObjectRef
	// Keys are the annotation keys the plan was computed with.
	Keys api.Keys
	// Frozen means nothing but Events is applied to this mux (invalid mux, invalid
	// max-ports): bad configuration never takes working traffic down.
	Frozen       bool
	FrozenReason string
	// Limit is the port limit in force after provider caps (0: none); PortRange is
	// the mux's port range as parsed ("" when unset or invalid). The plugin shows them.
	Limit     int
	PortRange string

	// Ports is the mux spec.ports: accepted ports sorted by (port, protocol), or the placeholder.
	Ports []corev1.ServicePort
	// Annotations are the desired values of the agent-owned mux annotation keys;
	// RemoveAnnotations lists agent-owned keys that must be absent.
	Annotations       map[string]string
	RemoveAnnotations []string

	// Slices are the desired mux EndpointSlices (without resourceVersion), sorted by name.
	Slices []*discoveryv1.EndpointSlice
	// SliceChanges says, for each of Slices by index, how the snapshot's live slice
	// of that name differs from it, and StaleSlices names, sorted, the live slices
	// svcmux manages that no desired slice names. The planner compares them once, for
	// its Events; the writes follow from its verdicts without comparing again (a
	// steady pass of a large mux compares thousands of slices).
	SliceChanges []SliceChange
	StaleSlices  []string
	// Endpoints is the desired legacy Endpoints object, nil in slices mode.
	Endpoints *corev1.Endpoints
	// DeleteLegacyEndpoints asks to delete the Python controller's labelled Endpoints
	// object once Slices are written (takeover in slices mode).
	DeleteLegacyEndpoints bool

	Channels        []ChannelOutcome
	State           StatePlan
	StripFinalizers []ObjectRef
	Events          []Event
	Stats           Stats
}

// Stats are the counts shown in the summary annotation and exported as metrics.
type Stats struct {
	Channels      int // attached
	Accepted      int // channels serving every declared port as asked
	Kept          int // refused an edit, still serving their last accepted ports
	Rejected      int // serving nothing
	Ports         int // mux ports served
	DeclaredPorts int // channel ports declared
	ReadyPods     int
}

// StatePlan is what happens to the mux's state ConfigMap.
type StatePlan struct {
	Name string
	// Labels and Annotations the ConfigMap carries (the Python controller's).
	Labels      map[string]string
	Annotations map[string]string
	// Readable is false when the ConfigMap is invalid or foreign: it is then never written.
	Readable bool
	// Problem says why the state is not readable or not writable this pass.
	Problem  string
	Document state.Document
	// Encoded is Document's exact bytes, set when Write is (call Document.Encode otherwise).
	Encoded string
	// Write is true when the content differs (semantically) from the live one;
	// Create when the ConfigMap does not exist yet.
	Write  bool
	Create bool
	// NodePorts is the remembered NodePort of each mux port (nodeports.json, SPEC
	// §10), sorted by name. WriteNodePorts is true when it differs from the live key
	// (or that key is invalid), under the same rules as Write; NodePortsEncoded is
	// then its exact bytes. The two keys are written independently.
	NodePorts        state.NodePorts
	NodePortsEncoded string
	WriteNodePorts   bool
}

// ChannelOutcome is what the pass decided for one attached channel.
type ChannelOutcome struct {
	Channel ObjectRef
	// Accepted: every declared port is served as asked.
	Accepted bool
	// Kept: refused this pass, but an earlier accepted set of ports keeps serving.
	Kept    bool
	Reason  string
	Message string
	// Mappings are the ports served for this channel, in spec.ports order.
	Mappings []ports.PortMapping
	// PortsAnnotation is the desired <prefix>/ports value; nil means absent.
	PortsAnnotation *string
	// Ingress is the desired status.loadBalancer.ingress.
	Ingress []corev1.LoadBalancerIngress
	// Condition is the desired <prefix>/Accepted condition; nil means remove it.
	Condition *metav1.Condition
}

// Serving reports whether the channel has ports on the mux.
func (o ChannelOutcome) Serving() bool { return o.Accepted || o.Kept }

// SliceChange is how a desired mux EndpointSlice differs from the live one.
type SliceChange uint8

const (
	// SliceKept: the live slice has every field svcmux owns as desired.
	SliceKept SliceChange = iota
	// SliceCreated: no live slice has its name.
	SliceCreated
	// SliceUpdated: a field svcmux owns differs (SliceDiffers).
	SliceUpdated
	// SliceReplaced: its address type differs, which cannot change: the live slice
	// is deleted and the desired one created.
	SliceReplaced
)
