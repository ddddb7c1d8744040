// Command svcmux-agent is the svcmux controller: flags (or SVCMUX_* environment
// variables) → agent.Run. Everything else lives in pkg/agent.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/nowakeai/svcmux/pkg/agent"
	"github.com/nowakeai/svcmux/pkg/version"
)

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv, os.ReadFile))
}

// defaultGCPercent is the agent's GOGC unless the environment sets one. Nearly all
// of its heap is the informer cache, which lives as long as the process; Go's
// default of 100 lets garbage grow to the size of that cache again before each
// collection, doubling the peak for nothing. 50 bounds the garbage at half the
// cache, for a collector that runs twice as often over the same live heap (GC is
// about 1% of a converging agent's CPU). GOMEMLIMIT is honoured as usual.
const defaultGCPercent = 50

// run is main without the process: it returns the exit code (0 ok, 1 the agent
// failed, 2 bad usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer,
	lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) int {
	cfg, showVersion, err := parse(args, stderr, lookupEnv, readFile)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "svcmux-agent:", err)
		return 2
	case showVersion:
		fmt.Fprintln(stdout, version.String())
		return 0
	}
	log, err := agent.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(stderr, "svcmux-agent:", err)
		return 2
	}
	// client-go (leader election, reflectors) logs through klog: same sink, same format.
	klog.SetSlogLogger(log)
	cfg.Logger = log
	if err := agent.Run(ctx, cfg); err != nil {
		log.Error("agent stopped", "error", err)
		return 1
	}
	return 0
}

// parse reads flags, then SVCMUX_* variables for flags not given, then fills and
// validates what depends on the environment.
func parse(args []string, stderr io.Writer, lookupEnv func(string) (string, bool),
	readFile func(string) ([]byte, error)) (cfg agent.Config, showVersion bool, err error) {
	cfg = agent.DefaultConfig()
	fs := pflag.NewFlagSet("svcmux-agent", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.AddFlags(fs)
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of svcmux-agent:\n%s\nEvery flag but --version can also be set with %s<FLAG> (e.g. %s);\na flag given on the command line wins.\n",
			fs.FlagUsages(), agent.EnvPrefix, agent.EnvName("api-prefix"))
	}
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if showVersion {
		return cfg, true, nil
	}
	if err := agent.ApplyEnv(fs, lookupEnv, "version"); err != nil {
		return cfg, false, err
	}
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	cfg.Complete(getenv, readFile)
	return cfg, false, cfg.Validate()
}
