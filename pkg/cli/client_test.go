package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/nowakeai/svcmux/pkg/version"
)

// kubeconfigFor writes a kubeconfig whose current context is server.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(p, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+server+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600))
	return p
}

func TestTheClientComesFromTheKubeconfigAndNamesThePlugin(t *testing.T) {
	var mu sync.Mutex
	var agents []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.Header.Get("User-Agent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"ServiceList","apiVersion":"v1","items":[]}`))
	}))
	defer srv.Close()
	path := kubeconfigFor(t, srv.URL)
	g := &Globals{ConfigFlags: genericclioptions.NewConfigFlags(false)}
	g.ConfigFlags.KubeConfig = &path
	c, err := g.client()
	require.NoError(t, err)
	_, err = c.CoreV1().Services("").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"kubectl-svcmux"}, agents)
}

func TestAKubeconfigThatCannotBeLoadedIsNoClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(path, []byte("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n"), 0o600))
	g := &Globals{ConfigFlags: genericclioptions.NewConfigFlags(false)}
	g.ConfigFlags.KubeConfig = &path
	_, err := g.client()
	require.Error(t, err)
	assert.Equal(t, "load kubeconfig: invalid configuration: context was not found for specified context: nowhere", err.Error())
}

func TestExecuteRunsThePluginWithItsOwnGlobals(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	assert.Equal(t, 0, Execute(streams, []string{"version", "--client"}))
	assert.Equal(t, "plugin: "+version.Version+" (commit "+version.Commit+")\n", out.String())
	assert.Equal(t, "", errOut.String())
}

func TestVersionWithoutAClientStillPrintsThePlugin(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	g := &Globals{Getenv: func(string) string { return "" },
		NewClient: func() (kubernetes.Interface, error) { return nil, errors.New("load kubeconfig: no context") }}
	assert.Equal(t, 0, ExecuteContext(context.Background(), streams, g, []string{"version"}))
	assert.Equal(t, "plugin: "+version.Version+" (commit "+version.Commit+")\nagent:  not found (no Deployment labelled "+AgentSelector+")\n", out.String())
}

func TestAnExitErrorWithoutCauseNamesItsCode(t *testing.T) {
	assert.Equal(t, "exit 3", (&ExitError{Code: 3}).Error())
}
