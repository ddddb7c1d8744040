// Package state is the per-mux state document kept in the state ConfigMap under
// allocations.json (SPEC §4): who owns which mux port. It decodes the Python
// controller's current and older formats, checks the ConfigMap belongs to the mux,
// and encodes byte-for-byte what the Python controller writes, so a takeover rewrites
// nothing. It is pure: no client, no logging, no clock.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/ports"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Claim sources. Default and explicit ports are static; only auto claims are
// repeated in the document's "allocations" list.
const (
	SourceAuto   = "auto"
	SourceStatic = "static"
)

// maxNameLength is the longest ConfigMap name the default naming produces.
const maxNameLength = 63

// Claim is one persisted owner of a mux (port, protocol).
type Claim struct {
	Namespace   string
	Service     string
	PortName    string
	Protocol    corev1.Protocol
	ChannelPort int32 // 0 when the document did not record it (older format)
	MuxPort     int32
	Source      string
}

// Key is "protocol:namespace:service:portName", the Python controller's claim key and
// the document's sort key. An empty protocol counts as TCP, as it does in Kubernetes.
func (c Claim) Key() string {
	return string(ports.NormalProtocol(c.Protocol)) + ":" + c.Namespace + ":" + c.Service + ":" + c.PortName
}

// Document is the content of allocations.json.
type Document struct {
	Mux    api.MuxRef
	Claims []Claim // sorted by Key, one claim per Key
	// Migrated is set when the stored document is the older allocations-only format,
	// so the caller writes the current format even though the content is unchanged.
	Migrated bool
}

// ConfigMapName is the state ConfigMap of a mux: the mux's allocation-configmap
// annotation when set, else "<mux>-port-allocations" kept within a DNS label by
// hashing long mux names the way the Python controller does.
func ConfigMapName(muxName, override string) string {
	if override != "" {
		return override
	}
	name := muxName + "-port-allocations"
	if len(name) <= maxNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(muxName))
	prefix := muxName
	if len(prefix) > 54 {
		prefix = prefix[:54]
	}
	return prefix + "-" + hex.EncodeToString(sum[:4])
}

// Equal compares content: the mux and the set of claims, ignoring order, duplicates
// by Key (the last wins, as in Decode), defaults, and Migrated. The agent writes the
// ConfigMap only when this is false (or the document was Migrated).
func (d Document) Equal(o Document) bool {
	if d.Mux != o.Mux {
		return false
	}
	a, b := normalizeClaims(d.Claims), normalizeClaims(o.Claims)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ValidateOwner refuses a state ConfigMap that belongs to another mux, whether its
// <prefix>/mux annotation (muxAnnotation, "" when absent) or the document's own mux
// says so. Two muxes sharing one ConfigMap would overwrite each other's claims.
func ValidateOwner(cmNamespace, cmName, muxAnnotation string, doc Document, mux api.MuxRef) error {
	// The messages are full sentences: they reach users as Event and condition text.
	if muxAnnotation != "" && muxAnnotation != mux.String() {
		//lint:ignore ST1005 user-facing Event text, worded as the Python controller's
		return fmt.Errorf("mux state ConfigMap %s/%s is owned by mux %s; expected %s. Use one state ConfigMap per mux.",
			cmNamespace, cmName, muxAnnotation, mux)
	}
	if doc.Mux != (api.MuxRef{}) && doc.Mux != mux {
		//lint:ignore ST1005 user-facing Event text, worded as the Python controller's
		return fmt.Errorf("mux state ConfigMap %s/%s contains state for mux %s; expected %s. Use one state ConfigMap per mux.",
			cmNamespace, cmName, doc.Mux, mux)
	}
	return nil
}

// normalizeClaims returns a copy with defaults applied (TCP, auto), sorted by Key,
// keeping the last claim of each Key. It never modifies the caller's slice.
func normalizeClaims(claims []Claim) []Claim {
	if len(claims) == 0 {
		return nil // one representation of "no claims", so Documents compare with ==
	}
	// Keys are computed once: a mux may hold thousands of claims.
	type keyed struct {
		key   string
		claim Claim
	}
	all := make([]keyed, len(claims))
	for i, c := range claims {
		c.Protocol = ports.NormalProtocol(c.Protocol)
		if c.Source == "" {
			c.Source = SourceAuto
		}
		all[i] = keyed{c.Key(), c}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	out := make([]Claim, 0, len(all))
	for i, k := range all {
		if i+1 < len(all) && all[i+1].key == k.key {
			continue // a later claim with the same Key replaces this one
		}
		out = append(out, k.claim)
	}
	return out
}
