package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// EnvPrefix is prepended to a flag's upper-cased name (dashes become underscores) to
// form its environment variable: --api-prefix ↔ SVCMUX_API_PREFIX. The Helm chart sets
// env; a flag given on the command line wins over its variable.
const EnvPrefix = "SVCMUX_"

// inClusterNamespaceFile is where a Pod's service account namespace is mounted.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Config is everything the agent needs to run. DefaultConfig gives the documented
// defaults; Complete fills what depends on the environment.
type Config struct {
	// Kubeconfig is a path; empty means in-cluster, else the default loading rules
	// (KUBECONFIG, ~/.kube/config). RestConfig, when set, is used as is (tests).
	Kubeconfig string
	RestConfig *rest.Config

	APIPrefix string
	// DefaultMuxNamespace is where a class without ".<namespace>" points; empty
	// means the agent's own namespace (POD_NAMESPACE, the in-cluster namespace file,
	// else "default").
	DefaultMuxNamespace string
	EndpointsMode       string
	DryRun              bool

	// LeaderElect is on by default, in and out of cluster alike, so that a second
	// replica (or a developer's local run against a live cluster) never writes
	// beside the leader; turn it off for a single local agent.
	LeaderElect             bool
	LeaderElectionNamespace string // empty: the agent's own namespace
	LeaderElectionID        string
	// Lease timings; zero means the client-go customary 15s/10s/2s.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// Bind addresses: host:port (port 0 picks a free port), or "0" to disable.
	MetricsBindAddress     string
	HealthProbeBindAddress string

	KubeAPIQPS              float32
	KubeAPIBurst            int
	Workers                 int
	ChannelWriteConcurrency int
	MuxWriteConcurrency     int
	// CoalesceWindow delays a mux's pass until its changes pause for that long (at
	// most coalesceMaxWindows windows), so changes arriving together share it.
	CoalesceWindow time.Duration
	// NamespaceSelector lets muxes admit channels by Namespace labels (SPEC §10):
	// the agent then watches Namespaces, from the first mux with a selector on.
	// Off by default, so the agent needs no RBAC on Namespaces.
	NamespaceSelector bool

	LogLevel  string
	LogFormat string
	// Logger overrides LogLevel/LogFormat when set.
	Logger *slog.Logger
}

// DefaultConfig is the agent's documented defaults. QPS and burst are sized for a
// thousand channels converging near the API server's own write floor (measured in
// test/bench: 200/400 made a cold 1,000-channel mux 3.2x the floor, 1000/2000
// 1.7x); the API server's priority and fairness still shares it out, and an idle
// agent makes no request at all.
func DefaultConfig() Config {
	return Config{
		APIPrefix:               api.DefaultPrefix,
		EndpointsMode:           string(plan.EndpointsModeSlices),
		LeaderElect:             true,
		LeaderElectionID:        "svcmux-agent",
		MetricsBindAddress:      ":8080",
		HealthProbeBindAddress:  ":8081",
		KubeAPIQPS:              1000,
		KubeAPIBurst:            2000,
		CoalesceWindow:          100 * time.Millisecond,
		Workers:                 8,
		ChannelWriteConcurrency: 32,
		MuxWriteConcurrency:     0,
		LogLevel:                "info",
		LogFormat:               "text",
	}
}

// AddFlags binds c's fields to fs; c's current values are the flags' defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "path to a kubeconfig; empty: in-cluster, else KUBECONFIG or ~/.kube/config")
	fs.StringVar(&c.APIPrefix, "api-prefix", c.APIPrefix, "prefix of every svcmux annotation key and loadBalancerClass")
	fs.StringVar(&c.DefaultMuxNamespace, "default-mux-namespace", c.DefaultMuxNamespace,
		"namespace of a mux named by a class without .<namespace> (default: the agent's own namespace)")
	fs.StringVar(&c.EndpointsMode, "endpoints-mode", c.EndpointsMode, "mux endpoints to write: slices, endpoints or both")
	fs.BoolVar(&c.DryRun, "dry-run", c.DryRun, "compute and log every pass, write nothing and post no event")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect,
		"elect a leader on a Lease so only one replica writes; on by default in and out of cluster")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace,
		"namespace of the leader election Lease (default: the agent's own namespace)")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", c.LeaderElectionID, "name of the leader election Lease")
	fs.DurationVar(&c.LeaseDuration, "leader-election-lease-duration", c.LeaseDuration,
		"how long a follower waits after the last renewal before taking over (0: 15s)")
	fs.DurationVar(&c.RenewDeadline, "leader-election-renew-deadline", c.RenewDeadline,
		"how long the leader keeps trying to renew before it steps down (0: 10s)")
	fs.DurationVar(&c.RetryPeriod, "leader-election-retry-period", c.RetryPeriod, "how often candidates try to acquire or renew (0: 2s)")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", c.MetricsBindAddress,
		"host:port serving /metrics (port 0 picks a free port); \"0\" disables it")
	fs.StringVar(&c.HealthProbeBindAddress, "health-probe-bind-address", c.HealthProbeBindAddress,
		"host:port serving /healthz and /readyz (port 0 picks a free port); \"0\" disables it")
	fs.Float32Var(&c.KubeAPIQPS, "kube-api-qps", c.KubeAPIQPS, "client-side rate limit of API requests per second")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", c.KubeAPIBurst, "client-side burst of API requests")
	fs.IntVar(&c.Workers, "workers", c.Workers, "muxes reconciled in parallel")
	fs.DurationVar(&c.CoalesceWindow, "coalesce-window", c.CoalesceWindow,
		"how long a changed mux waits for its changes to pause before its pass, so changes arriving together share one pass; at most 10 windows after the first (0: none)")
	fs.IntVar(&c.ChannelWriteConcurrency, "channel-write-concurrency", c.ChannelWriteConcurrency,
		"writes in flight at once, shared by every mux pass")
	fs.IntVar(&c.MuxWriteConcurrency, "mux-write-concurrency", c.MuxWriteConcurrency,
		"mux writes in flight at once, beside --channel-write-concurrency (0: they share it)")
	fs.BoolVar(&c.NamespaceSelector, "namespace-selector", c.NamespaceSelector,
		"honour <prefix>/allowed-namespace-selector on muxes: watch Namespaces once a mux uses one (needs list and watch on namespaces)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyEnv sets every flag of fs that was not given on the command line from its
// environment variable, parsed like the flag itself. skip names flags that have
// no variable (e.g. --version).
func ApplyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool), skip ...string) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || contains(skip, f.Name) {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s: %w", EnvName(f.Name), err))
		}
	})
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Complete fills the namespaces left empty with the agent's own namespace.
func (c *Config) Complete(getenv func(string) string, readFile func(string) ([]byte, error)) {
	own := OwnNamespace(getenv, readFile)
	if c.DefaultMuxNamespace == "" {
		c.DefaultMuxNamespace = own
	}
	if c.LeaderElectionNamespace == "" {
		c.LeaderElectionNamespace = own
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 15 * time.Second
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 10 * time.Second
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = 2 * time.Second
	}
}

// OwnNamespace is POD_NAMESPACE (the chart sets it from the downward API), else the
// in-cluster service account namespace, else "default".
func OwnNamespace(getenv func(string) string, readFile func(string) ([]byte, error)) string {
	if ns := strings.TrimSpace(getenv("POD_NAMESPACE")); ns != "" {
		return ns
	}
	if b, err := readFile(inClusterNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "default"
}

// Validate reports every setting that cannot work, together.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.APIPrefix) == "" {
		errs = append(errs, errors.New("--api-prefix must not be empty"))
	}
	if !api.IsDNSLabel(c.DefaultMuxNamespace) {
		errs = append(errs, fmt.Errorf("--default-mux-namespace %q is not a namespace name", c.DefaultMuxNamespace))
	}
	if !plan.EndpointsMode(c.EndpointsMode).Valid() {
		errs = append(errs, fmt.Errorf("--endpoints-mode %q: expected slices, endpoints or both", c.EndpointsMode))
	}
	if c.LeaderElect && (c.LeaderElectionNamespace == "" || c.LeaderElectionID == "") {
		errs = append(errs, errors.New("--leader-election-namespace and --leader-election-id are required with --leader-elect"))
	}
	if _, _, err := ParseBindAddress(c.MetricsBindAddress); err != nil {
		errs = append(errs, fmt.Errorf("--metrics-bind-address: %w", err))
	}
	if _, _, err := ParseBindAddress(c.HealthProbeBindAddress); err != nil {
		errs = append(errs, fmt.Errorf("--health-probe-bind-address: %w", err))
	}
	if c.KubeAPIQPS <= 0 || c.KubeAPIBurst < 1 {
		errs = append(errs, errors.New("--kube-api-qps and --kube-api-burst must be positive"))
	}
	if c.Workers < 1 || c.ChannelWriteConcurrency < 1 {
		errs = append(errs, errors.New("--workers and --channel-write-concurrency must be at least 1"))
	}
	if c.MuxWriteConcurrency < 0 {
		errs = append(errs, errors.New("--mux-write-concurrency must not be negative"))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: expected text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}
