package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// selectorMuxYAML is mux svc-mux/mux admitting namespaces labelled team=a.
const selectorMuxYAML = "apiVersion: v1\nkind: Service\nmetadata:\n  name: mux\n  namespace: svc-mux\n  annotations:\n" +
	"    svc-mux.nowake.ai/multiplexer: \"true\"\n    svc-mux.nowake.ai/allowed-namespace-selector: team=a\n" +
	"spec:\n  type: LoadBalancer\n  ports:\n  - {name: placeholder, port: 101}\n"

func namespaceYAML(name, team string) string {
	s := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
	if team != "" {
		s += "  labels: {team: " + team + "}\n"
	}
	return s
}

// check predicts a namespace selector from the Namespaces in the files (offline)
// or in the cluster, files winning: the channel of the admitted namespace is
// served, the other refused NamespaceNotAllowed, and check exits 1.
func TestCheckPredictsANamespaceSelectorFromFilesAndCluster(t *testing.T) {
	channels := checkChannelYAML("app", "web", "", "http", 80) + "---\n" + checkChannelYAML("ops", "db", "", "sql", 5432)
	want := []string{"mux svc-mux/mux Valid", "app/web Accepted Accepted http:80->80/TCP",
		"ops/db Rejected NamespaceNotAllowed sql:5432->pending/TCP"}

	t.Run("offline, the Namespaces come from the files", func(t *testing.T) {
		files := map[string]string{"all.yaml": selectorMuxYAML + "---\n" + namespaceYAML("app", "a") + "---\n" +
			namespaceYAML("ops", "") + "---\n" + channels}
		res := runCheck(t, nil, "", "--offline", "-f", checkFilesDir(t, files), "-o", "json")
		require.Equal(t, ExitFound, res.Code, res.ErrOut)
		assert.Equal(t, want, checkSummary(t, res.Out))
	})
	t.Run("live, a selector mux only the files bring still reads the cluster's Namespaces", func(t *testing.T) {
		live := []runtime.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"team": "a"}}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ops"}},
		}
		files := map[string]string{"all.yaml": selectorMuxYAML + "---\n" + channels}
		res := runCheck(t, live, "", "-f", checkFilesDir(t, files), "-o", "json")
		require.Equal(t, ExitFound, res.Code, res.ErrOut)
		assert.Equal(t, want, checkSummary(t, res.Out))
	})
	t.Run("live, a Namespace in the files replaces the cluster's", func(t *testing.T) {
		live := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ops"}}}
		files := map[string]string{"all.yaml": selectorMuxYAML + "---\n" + namespaceYAML("app", "a") + "---\n" + channels}
		res := runCheck(t, live, "", "-f", checkFilesDir(t, files), "-o", "json")
		require.Equal(t, ExitFound, res.Code, res.ErrOut)
		assert.Equal(t, want, checkSummary(t, res.Out))
	})
}
