package plan

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Tenancy is a mux's rule for which namespaces may attach channels (SPEC §10).
// The zero value admits every namespace: a mux without the annotations behaves as
// under the Python controller, so a drop-in changes nothing.
type Tenancy struct {
	set      bool
	all      bool            // "*"
	names    map[string]bool // exact namespace names
	prefixes []string        // "team-*" → "team-"
	selector labels.Selector // nil when the selector annotation is absent
	// rule is how messages quote the annotations in force.
	rule string
}

// ParseTenancy reads <prefix>/allowed-namespaces and
// <prefix>/allowed-namespace-selector from a mux. An annotation that is present
// must parse: an empty or malformed rule is an error (the mux is then frozen,
// keeping its last good ports), never read as "nobody" or "everybody".
func ParseTenancy(mux *corev1.Service, keys api.Keys) (Tenancy, error) {
	var t Tenancy
	var rules []string
	if v, ok := mux.Annotations[keys.AllowedNamespaces]; ok {
		if err := t.parseNames(v); err != nil {
			return Tenancy{}, fmt.Errorf("annotation %s: %v", keys.AllowedNamespaces, err)
		}
		rules = append(rules, fmt.Sprintf("%s=%q", keys.AllowedNamespaces, v))
	}
	if v, ok := mux.Annotations[keys.AllowedNamespaceSelector]; ok {
		if strings.TrimSpace(v) == "" {
			return Tenancy{}, fmt.Errorf("annotation %s is empty; give a label selector such as \"team in (a,b)\", or remove it", keys.AllowedNamespaceSelector)
		}
		sel, err := labels.Parse(v)
		if err != nil {
			return Tenancy{}, fmt.Errorf("annotation %s: %v", keys.AllowedNamespaceSelector, err)
		}
		t.selector = sel
		rules = append(rules, fmt.Sprintf("%s=%q", keys.AllowedNamespaceSelector, v))
	}
	t.set = len(rules) > 0
	t.rule = strings.Join(rules, " or ")
	return t, nil
}

// parseNames reads "*" or a comma list of names, each optionally ending in "*".
// Empty items between commas are skipped; a list with no item is an error.
func (t *Tenancy) parseNames(value string) error {
	t.names = map[string]bool{}
	var bad []string
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case item == "*":
			t.all = true
		case strings.HasSuffix(item, "*") && validPrefix(strings.TrimSuffix(item, "*")):
			t.prefixes = append(t.prefixes, strings.TrimSuffix(item, "*"))
		case len(validation.IsDNS1123Label(item)) == 0:
			t.names[item] = true
		default:
			bad = append(bad, fmt.Sprintf("%q", item))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: not a namespace name or a name prefix followed by *; expected \"*\" or a comma list such as \"team-a, team-*\"",
			strings.Join(bad, ", "))
	}
	if !t.all && len(t.names) == 0 && len(t.prefixes) == 0 {
		return fmt.Errorf("no namespace given; expected \"*\" or a comma list such as \"team-a, team-*\"")
	}
	sort.Strings(t.prefixes)
	return nil
}

// validPrefix reports whether p can begin a namespace name: what is left when a
// glob's "*" is removed, made whole with one more letter, is a DNS-1123 label.
func validPrefix(p string) bool {
	if p == "" || strings.Contains(p, "*") {
		return false
	}
	return len(validation.IsDNS1123Label(p+"x")) == 0
}

// Restricted reports whether the mux has a rule at all.
func (t Tenancy) Restricted() bool { return t.set }

// UsesSelector reports whether the rule needs Namespace labels.
func (t Tenancy) UsesSelector() bool { return t.selector != nil }

// Rule quotes the annotations in force, for messages.
func (t Tenancy) Rule() string { return t.rule }

// Admits reports whether channels of namespace ns may attach. nsLabels are the
// Namespace's labels; a namespace whose labels are unknown matches no selector.
func (t Tenancy) Admits(ns string, nsLabels map[string]string) bool {
	if !t.set || t.all || t.names[ns] {
		return true
	}
	for _, p := range t.prefixes {
		if strings.HasPrefix(ns, p) {
			return true
		}
	}
	return t.selector != nil && t.selector.Matches(labels.Set(nsLabels))
}

// UsesNamespaceSelector reports whether mux carries the selector annotation: the
// agent watches Namespaces only then (SPEC §10).
func UsesNamespaceSelector(mux *corev1.Service, keys api.Keys) bool {
	_, ok := mux.Annotations[keys.AllowedNamespaceSelector]
	return ok && IsMux(mux, keys)
}

// readTenancy parses the mux's rule; false freezes the mux (like a bad max-ports).
func (p *pass) readTenancy() bool {
	t, err := ParseTenancy(p.snap.Mux, p.keys)
	if err == nil && t.UsesSelector() && p.snap.Namespaces == nil {
		err = fmt.Errorf("annotation %s needs Namespace labels, and the agent does not watch Namespaces; "+
			"install the chart with agent.namespaceSelector=true (agent flag --namespace-selector), or use %s",
			p.keys.AllowedNamespaceSelector, p.keys.AllowedNamespaces)
	}
	if err != nil {
		p.warnMux(api.ReasonInvalidAllowedNamespaces, fmt.Sprintf("mux %s: %v; the mux keeps its current ports, endpoints and state until it is fixed", p.mux, err))
		p.plan.FrozenReason = api.ReasonInvalidAllowedNamespaces
		return false
	}
	p.tenancy = t
	return true
}

// denyOutsiders marks channels whose namespace the mux does not admit. Such a
// channel holds nothing: its claims are pruned like a detached channel's, so
// revoking a namespace frees its ports (the one deliberate take-down, by the mux
// owner's own edit).
func (p *pass) denyOutsiders() {
	if !p.tenancy.Restricted() {
		return
	}
	for _, c := range p.channels {
		ns := c.ref.Namespace
		if p.tenancy.Admits(ns, p.snap.Namespaces[ns]) {
			continue
		}
		c.denied = &rejection{reason: api.ReasonNamespaceNotAllowed, message: fmt.Sprintf(
			"channel %s: namespace %s may not attach to mux %s (%s); ask the mux owner to add it to %s, or use another mux",
			c.ref, ns, p.mux, p.tenancy.Rule(), p.tenancy.addKey(p.keys))}
	}
}

// addKey names the annotation a mux owner edits to admit a namespace.
func (t Tenancy) addKey(keys api.Keys) string {
	if t.selector != nil && t.names == nil {
		return keys.AllowedNamespaceSelector + " (or label the namespace to match it)"
	}
	return keys.AllowedNamespaces
}
