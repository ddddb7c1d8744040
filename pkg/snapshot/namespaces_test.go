package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

func namespace(name string, labels map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// The snapshot carries Namespace labels only for a mux with a selector, and only
// when the reader has Namespaces: nil tells the planner they were not read.
func TestSnapshotCarriesNamespaceLabelsOnlyForASelectorMux(t *testing.T) {
	selector := map[string]string{keys.AllowedNamespaceSelector: "team=a"}
	for _, tc := range []struct {
		name   string
		mux    map[string]string
		listed bool
		want   map[string]map[string]string
	}{
		{"a selector mux gets the labels of its channels' namespaces; a namespace not found has none",
			selector, true, map[string]map[string]string{"a": {"team": "a"}, "b": nil}},
		{"a selector mux read without Namespaces gets nil", selector, false, nil},
		{"a mux with only allowed-namespaces needs no labels", map[string]string{keys.AllowedNamespaces: "a"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := lists()
			l.Services[0] = mux(defaultNS, "mux", tc.mux)
			l.Namespaces = []corev1.Namespace{namespace("a", map[string]string{"team": "a"}), namespace("c", nil)}
			l.NamespacesListed = tc.listed
			r, err := FromLists(keys, defaultNS, l)
			require.NoError(t, err)
			assert.Equal(t, tc.listed, r.WatchesNamespaces())
			m, err := r.Mux(api.MuxRef{Namespace: defaultNS, Name: "mux"})
			require.NoError(t, err)
			s, err := r.Snapshot(m)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.Namespaces)
		})
	}
}
