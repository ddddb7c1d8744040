package drift

import (
	"bytes"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/nowakeai/svcmux/pkg/api"
)

// Writer kinds: who last wrote a live value, by its field manager.
const (
	WriterAgent              = "agent"
	WriterPreviousController = "previous-controller"
	WriterGitOps             = "gitops"
	WriterKubectl            = "kubectl"
	WriterOther              = "other"
	// WriterUnknown: no managedFields entry owns the field (it was removed, the
	// object is missing, or the object carries no managedFields).
	WriterUnknown = "unknown"
)

// Writer is the managedFields entry that owns a live value.
type Writer struct {
	Kind        string
	Manager     string
	Operation   string
	Subresource string
	Time        *metav1.Time
}

// gitopsManagers are the field managers of the GitOps tools that re-apply a mux
// from Git; prefixes end with "*".
var gitopsManagers = []string{
	"argocd*", "flux*", "kustomize-controller", "helm-controller", "helm", "kapp*", "fleet-agent",
}

// Classify names the kind of writer behind a field manager.
func Classify(manager string) string {
	switch {
	case manager == "":
		return WriterUnknown
	case manager == api.FieldManager:
		return WriterAgent
	case manager == api.PreviousFieldManagerKr8s || manager == api.PreviousFieldManagerKopf:
		return WriterPreviousController
	case manager == "kubectl" || strings.HasPrefix(manager, "kubectl-"),
		manager == "svcmux-repair": // kubectl svcmux repair --apply
		return WriterKubectl
	}
	for _, g := range gitopsManagers {
		if prefix, ok := strings.CutSuffix(g, "*"); ok && strings.HasPrefix(manager, prefix) || manager == g {
			return WriterGitOps
		}
	}
	return WriterOther
}

// ownership is the managedFields of one object, parsed on the first question and
// then asked about any number of fields: most objects have no drift and are never
// parsed.
type ownership struct {
	entries []metav1.ManagedFieldsEntry
	sets    []*fieldpath.Set // nil where FieldsV1 is absent or does not parse
	parsed  bool
}

func newOwnership(entries []metav1.ManagedFieldsEntry) *ownership {
	return &ownership{entries: entries}
}

func (o *ownership) parse() {
	if o.parsed {
		return
	}
	o.parsed = true
	o.sets = make([]*fieldpath.Set, len(o.entries))
	for i, e := range o.entries {
		if e.FieldsV1 == nil || len(e.FieldsV1.GetRawBytes()) == 0 {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.GetRawBytes())); err == nil {
			o.sets[i] = s
		}
	}
}

// blame finds who last wrote the value at any of paths, as kubectl-blame does:
// the entry that owns the most specific path at or under one of them (an entry
// that wrote one element of a list wrote more precisely than one that owns only
// the list), the latest time on ties, then another writer over the agent, then the
// earlier entry. An entry of
// the status subresource counts like any other.
func (o *ownership) blame(paths ...fieldpath.Path) Writer {
	o.parse()
	best, bestDepth := -1, -1
	for i, set := range o.sets {
		if set == nil {
			continue
		}
		depth := -1
		for _, p := range paths {
			depth = max(depth, ownedDepth(set, p))
		}
		if depth < 0 {
			continue
		}
		if depth > bestDepth || depth == bestDepth && o.rather(i, best) {
			best, bestDepth = i, depth
		}
	}
	if best < 0 {
		return Writer{Kind: WriterUnknown}
	}
	e := o.entries[best]
	return Writer{Kind: Classify(e.Manager), Manager: e.Manager, Operation: string(e.Operation),
		Subresource: e.Subresource, Time: e.Time}
}

// rather reports whether entry i beats entry j of the same specificity: the later
// write; within the same second (managedFields times have no finer grain) another
// writer beats the agent, which wrote what it planned then.
func (o *ownership) rather(i, j int) bool {
	a, b := o.entries[i], o.entries[j]
	if later(a.Time, b.Time) || later(b.Time, a.Time) {
		return later(a.Time, b.Time)
	}
	return a.Manager != api.FieldManager && b.Manager == api.FieldManager
}

// ownedDepth is the length of the longest path of set that is p or under p, -1
// when set owns nothing there.
func ownedDepth(set *fieldpath.Set, p fieldpath.Path) int {
	if len(p) == 0 {
		return -1
	}
	for _, pe := range p[:len(p)-1] {
		child, ok := set.Children.Get(pe)
		if !ok {
			return -1
		}
		set = child
	}
	last := p[len(p)-1]
	depth := -1
	if set.Members.Has(last) {
		depth = len(p)
	}
	if sub, ok := set.Children.Get(last); ok {
		sub.Iterate(func(q fieldpath.Path) { depth = max(depth, len(p)+len(q)) })
	}
	return depth
}

func later(a, b *metav1.Time) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return a.After(b.Time)
}
