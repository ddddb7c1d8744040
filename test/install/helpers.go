// Package install proves the chart installed for real: Helm's SDK installs
// deploy/helm/svcmux into the test control plane, into a namespace that enforces the
// `restricted` Pod Security level; the agent binary then runs with the args the chart
// rendered, authenticated as the chart's ServiceAccount (a TokenRequest token), so every
// request it makes is authorised by the chart's RBAC and nothing else.
package install

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nowakeai/svcmux/test/controlplane"
)

// helmConfig is Helm's action configuration against the control plane as its admin,
// storing releases as Secrets in ns (Helm's default driver).
func helmConfig(t *testing.T, cp *controlplane.ControlPlane, ns string) *action.Configuration {
	t.Helper()
	kubeconfig := cp.KubeconfigPath()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	flags.Namespace = &ns
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	return cfg
}

func newInstall(cfg *action.Configuration, release, ns string) *action.Install {
	inst := action.NewInstall(cfg)
	inst.ReleaseName = release
	inst.Namespace = ns
	// No kubelet runs the pods: waiting for the Deployment would never end.
	inst.WaitStrategy = kube.HookOnlyStrategy
	inst.Timeout = time.Minute
	return inst
}

func newUninstall(cfg *action.Configuration) *action.Uninstall {
	u := action.NewUninstall(cfg)
	u.WaitStrategy = kube.HookOnlyStrategy
	u.Timeout = time.Minute
	return u
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as ns/name with a
// TokenRequest token: the user is system:serviceaccount:<ns>:<name> with only the groups
// every service account has, so the chart's bindings are all it may use.
func serviceAccountKubeconfig(t *testing.T, cp *controlplane.ControlPlane, ns, name string) string {
	t.Helper()
	expiry := int64(3600)
	tr, err := cp.Client().CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	admin := cp.Config()
	ca := admin.CAData
	if len(ca) == 0 && admin.CAFile != "" {
		if ca, err = os.ReadFile(admin.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cp"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: ca}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "cp", AuthInfo: "sa", Namespace: ns}
	cfg.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "sa.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentArgs are the chart's container args without the bind addresses: two agents on one
// host cannot both bind :8080 and :8081, so the harness gives each free loopback ports
// (in a cluster each pod has its own network namespace).
func agentArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "--metrics-bind-address=") || strings.HasPrefix(a, "--health-probe-bind-address=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

func describe(format string, a ...any) string { return fmt.Sprintf(format, a...) }
