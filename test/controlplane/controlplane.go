// Package controlplane runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and kube-controller-manager, built at a pinned version by
// test/tools/build.sh (`make testenv`). No kubelet, scheduler or cloud
// provider run: tests create Nodes and Pods themselves, write pod status as a
// kubelet would, and write Service load-balancer status as a cloud would;
// the real endpoint and endpointslice controllers do the rest.
//
// One control plane serves a whole test package (see Main and Get); tests
// isolate themselves with Namespace.
package controlplane

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// EnvBinDir overrides where the binaries are looked up (default: the
	// versioned cache under test/.cache that test/tools/build.sh fills).
	EnvBinDir = "SVCMUX_TESTENV_BIN"
	// EnvKeep, when "true", keeps the run directory (data, kubeconfig and
	// component logs) after Stop, for post-mortems; remove it by hand.
	EnvKeep = "SVCMUX_CONTROLPLANE_KEEP"

	// ServiceClusterIPRange is wider than envtest's default 10.0.0.0/24 (254
	// addresses) so suites can create many channel Services; /16 stays well
	// within the API server's 20-bit limit.
	ServiceClusterIPRange = "10.96.0.0/16"
	// ServiceNodePortRange is wide so that many LoadBalancer Services (which
	// allocate node ports by default) never exhaust it, and starts at 40000
	// so it stays clear of the 20000-40000 ports the e2e tests use as mux and
	// service ports (node ports and service ports are independent in the API,
	// but a later kube-proxy would program node ports on the host).
	ServiceNodePortRange = "40000-60000"

	runDirPrefix = "svcmux-cp-"
	keptMarker   = "KEPT"
)

// Binaries the control plane runs, plus the ones tests may use directly.
var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

// ControlPlane is a running etcd + kube-apiserver + kube-controller-manager.
type ControlPlane struct {
	binDir     string
	runDir     string
	kubeconfig string
	env        *envtest.Environment
	config     *rest.Config
	client     kubernetes.Interface
	kcm        *process
	stopMu     sync.Mutex // Stop may race with Main's signal handler
	opts       Options

	// StartDuration is how long Start took (for reporting).
	StartDuration time.Duration
}

// ErrBinariesMissing is returned (wrapped) by Start when the binaries have
// not been built; Main turns it into a skip outside CI.
var ErrBinariesMissing = errors.New("control plane binaries not built")

// Start starts a new control plane. The caller must call Stop.
func Start() (cp *ControlPlane, err error) { return StartWith(Options{}) }

// StartWith is Start with options (see Options).
func StartWith(opts Options) (cp *ControlPlane, err error) {
	began := time.Now()
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	for _, b := range requiredBinaries {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%w: %s is missing (run `make testenv`)", ErrBinariesMissing, filepath.Join(binDir, b))
		}
	}
	removeStaleRunDirs()
	// Our own directory per run (envtest would otherwise scatter
	// k8s_test_framework_* dirs in $TMPDIR); the pid in its name lets a later
	// run remove it if this process dies without Stop.
	runDir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	cp = &ControlPlane{binDir: binDir, runDir: runDir, opts: opts}
	defer func() {
		if err != nil {
			if stopErr := cp.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
			cp = nil
		}
	}()
	if err := cp.startAPIServer(); err != nil {
		return cp, err
	}
	if err := cp.startControllerManager(); err != nil {
		return cp, err
	}
	cp.StartDuration = time.Since(began)
	return cp, nil
}

func (cp *ControlPlane) startAPIServer() error {
	for _, d := range []string{"etcd", "apiserver", "logs"} {
		if err := os.MkdirAll(filepath.Join(cp.runDir, d), 0o755); err != nil {
			return err
		}
	}
	etcdLog, err := os.Create(filepath.Join(cp.runDir, "logs", "etcd.log"))
	if err != nil {
		return err
	}
	defer etcdLog.Close() // the child keeps its own descriptor
	apiLog, err := os.Create(filepath.Join(cp.runDir, "logs", "kube-apiserver.log"))
	if err != nil {
		return err
	}
	defer apiLog.Close()

	paths, undo, err := deathSignalWrappers(cp.runDir, cp.binDir, "etcd", "kube-apiserver")
	if err != nil {
		return err
	}
	defer undo()

	api := &envtest.APIServer{
		Path:    paths["kube-apiserver"],
		CertDir: filepath.Join(cp.runDir, "apiserver"),
		Out:     apiLog,
		Err:     apiLog,
	}
	api.Configure().
		Set("service-cluster-ip-range", ServiceClusterIPRange).
		Set("service-node-port-range", ServiceNodePortRange)
	if err := cp.configureAudit(api); err != nil {
		return err
	}
	notExisting := false
	cp.env = &envtest.Environment{
		// Never reuse whatever cluster $KUBECONFIG points at, even if
		// USE_EXISTING_CLUSTER is set in the environment.
		UseExistingCluster: &notExisting,
		ControlPlane: envtest.ControlPlane{
			APIServer: api,
			Etcd: &envtest.Etcd{
				Path:    paths["etcd"],
				DataDir: filepath.Join(cp.runDir, "etcd"),
				Out:     etcdLog,
				Err:     etcdLog,
			},
			KubectlPath: filepath.Join(cp.binDir, "kubectl"),
		},
		// The first start after a build is slower (page cache); 2 cores.
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	cfg, err := cp.env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w\n%s\n%s", err,
			tail(etcdLog.Name(), 20), tail(apiLog.Name(), 40))
	}
	cp.config = cfg
	cp.kubeconfig = filepath.Join(cp.runDir, "kubeconfig")
	if err := os.WriteFile(cp.kubeconfig, cp.env.KubeConfig, 0o600); err != nil {
		return err
	}
	cp.client, err = kubernetes.NewForConfig(cfg)
	return err
}

// Stop stops the controller manager, the API server and etcd (each as a
// process group, waiting for it to exit) and removes the run directory.
func (cp *ControlPlane) Stop() error {
	if cp == nil {
		return nil
	}
	cp.stopMu.Lock()
	defer cp.stopMu.Unlock()
	var errs []error
	if cp.kcm != nil {
		errs = append(errs, cp.kcm.stop(20*time.Second))
		cp.kcm = nil
	}
	if cp.env != nil {
		errs = append(errs, cp.env.Stop())
		cp.env = nil
	}
	if cp.runDir != "" {
		if os.Getenv(EnvKeep) == "true" {
			// The marker stops later runs from removing it as stale.
			errs = append(errs, os.WriteFile(filepath.Join(cp.runDir, keptMarker), nil, 0o644))
			fmt.Fprintf(os.Stderr, "controlplane: kept %s\n", cp.runDir)
		} else {
			errs = append(errs, os.RemoveAll(cp.runDir))
		}
		cp.runDir = ""
	}
	return errors.Join(errs...)
}

// Config is an admin (system:masters) client configuration.
func (cp *ControlPlane) Config() *rest.Config { return rest.CopyConfig(cp.config) }

// Client is an admin clientset.
func (cp *ControlPlane) Client() kubernetes.Interface { return cp.client }

// KubeconfigPath is an admin kubeconfig file for out-of-process clients (the
// agent, the kubectl plugin, kubectl). Valid until Stop.
func (cp *ControlPlane) KubeconfigPath() string { return cp.kubeconfig }

// BinDir is the directory holding etcd, kube-apiserver,
// kube-controller-manager, kubectl and kube-proxy.
func (cp *ControlPlane) BinDir() string { return cp.binDir }

// Binary is the path of one of the built binaries, e.g. "kubectl".
func (cp *ControlPlane) Binary(name string) string { return filepath.Join(cp.binDir, name) }

// LogDir holds etcd.log, kube-apiserver.log and kube-controller-manager.log.
func (cp *ControlPlane) LogDir() string { return filepath.Join(cp.runDir, "logs") }

// BinDir is where the control plane binaries are: $SVCMUX_TESTENV_BIN, or
// <repo>/test/.cache/k8s-<version>-etcd-<version>/bin with the versions read
// from test/tools/versions.env, the same rule test/tools/build.sh follows.
func BinDir() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// `go test` runs in the package directory; walk up to the repo root.
	for dir := wd; ; dir = filepath.Dir(dir) {
		versions := filepath.Join(dir, "test", "tools", "versions.env")
		if _, err := os.Stat(versions); err == nil {
			v, err := readVersions(versions)
			if err != nil {
				return "", err
			}
			name := fmt.Sprintf("k8s-%s-etcd-%s", v["K8S_VERSION"], v["ETCD_VERSION"])
			return filepath.Join(dir, "test", ".cache", name, "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("test/tools/versions.env not found above %s; set %s", wd, EnvBinDir)
		}
	}
}

// readVersions parses the KEY=VALUE lines of versions.env.
func readVersions(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, val, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			v[k] = val
		}
	}
	if v["K8S_VERSION"] == "" || v["ETCD_VERSION"] == "" {
		return nil, fmt.Errorf("%s: K8S_VERSION or ETCD_VERSION missing", path)
	}
	return v, sc.Err()
}

// removeStaleRunDirs deletes run directories of test processes that died
// without calling Stop (their components die with them, see reexec_linux.go).
func removeStaleRunDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), runDirPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), runDirPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, keptMarker)); err == nil {
			continue // SVCMUX_CONTROLPLANE_KEEP: the user removes it
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
