package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/doctor"
	"github.com/nowakeai/svcmux/pkg/version"
)

func init() { extraCommands = append(extraCommands, NewCmdDoctor) }

// DoctorOptions are the flags of `kubectl svcmux doctor`.
type DoctorOptions struct {
	genericiooptions.IOStreams
	g      *Globals
	Output string
	FailOn string
	Codes  bool
	// Now is the clock (tests pin it); nil means time.Now.
	Now func() time.Time
}

// DoctorReport is the `-o json` document of `kubectl svcmux doctor`.
type DoctorReport struct {
	TypeMeta
	Findings []doctor.Finding `json:"findings"`
	Skipped  []doctor.Skipped `json:"skipped"`
}

// DoctorCodes is the `-o json` document of `kubectl svcmux doctor --codes`.
type DoctorCodes struct {
	TypeMeta
	Codes []doctor.Entry `json:"codes"`
}

// NewCmdDoctor builds `kubectl svcmux doctor`.
func NewCmdDoctor(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &DoctorOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the agent, muxes, channels, state, GitOps rules and provider caps; print each finding with its fix",
		Long: `Check everything svcmux depends on: the agent's Deployment, leader Lease, version
and RBAC; every mux and channel as the agent's planner judges them; the state
ConfigMaps; drift of agent-owned fields; GitOps ignore rules; provider caps (GKE 100
ports, AWS NLB 50 listeners); the NodePort budget; channel fields a shared load
balancer cannot honour; and what svc-lb-mux left behind. Each finding has a stable
code (kubectl svcmux doctor --codes lists them), a severity, the object, a message
and the fix as a command. A read the cluster refuses is reported as "could not
check", not as an error.

Exit status: 0 when no finding is at or above --fail-on, 1 when one is, 2 when
doctor could not run.`,
		Example: `  kubectl svcmux doctor
  kubectl svcmux doctor -n svc-mux --fail-on warning
  kubectl svcmux doctor -o json
  kubectl svcmux doctor --codes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(cmd); err != nil {
				return err
			}
			if o.Codes {
				return o.printCodes()
			}
			return o.Run(cmd.Context(), g.namespaceScope(cmd))
		},
	}
	addOutputFlag(cmd, &o.Output, outputTable, outputJSON, outputYAML)
	cmd.Flags().StringVar(&o.FailOn, "fail-on", string(doctor.SeverityError),
		"exit 1 when a finding is at or above this severity: warning|error")
	cmd.Flags().BoolVar(&o.Codes, "codes", false, "print the catalog of finding codes and exit")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"warning", "error"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate refuses an unknown -o or --fail-on.
func (o *DoctorOptions) Validate(cmd *cobra.Command) error {
	if err := validateOutput(cmd, o.Output); err != nil {
		return err
	}
	if s, ok := doctor.ParseSeverity(o.FailOn); !ok || s == doctor.SeverityInfo {
		return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("unknown --fail-on %q: use warning or error", o.FailOn)}
	}
	return nil
}

// Run reads the cluster, runs every check and prints the report.
func (o *DoctorOptions) Run(ctx context.Context, namespace string) error {
	in, err := o.read(ctx, namespace)
	if err != nil {
		return err
	}
	report := doctor.Run(in)
	doc := DoctorReport{TypeMeta: typeMeta("DoctorReport"), Findings: report.Findings, Skipped: report.Skipped}
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		if err != nil {
			return err
		}
	} else if err := printDoctorReport(o.Out, doc); err != nil {
		return err
	}
	failOn, _ := doctor.ParseSeverity(o.FailOn)
	if report.AtOrAbove(failOn) > 0 {
		return errFound
	}
	for _, f := range in.Failed {
		if f.Resource == doctor.ResourceServices {
			// No mux or channel could be judged: a clean report would be a lie.
			return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("could not check muxes and channels: %s", f.Why)}
		}
	}
	return nil
}

// read builds doctor's Input. Only an unusable client or a Services List that
// fails for another reason than RBAC stops it: nothing else can be judged then.
func (o *DoctorOptions) read(ctx context.Context, namespace string) (doctor.Input, error) {
	g := o.g
	c, err := g.client()
	if err != nil {
		return doctor.Input{}, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	in := doctor.Input{Keys: g.Keys(), Now: now(), PluginVersion: version.Version,
		DefaultMuxNamespace: g.DefaultMuxNamespace, AgentSelector: AgentSelector}
	lists, errs := readListsTolerant(ctx, c)
	for _, e := range errs {
		if e.Resource == doctor.ResourceServices && !e.Forbidden() {
			return doctor.Input{}, e
		}
		in.Failed = append(in.Failed, failure(e.Resource, e))
	}
	cl, err := g.planLists(lists, namespace)
	if err != nil {
		return doctor.Input{}, err
	}
	for _, m := range cl.Muxes {
		in.Muxes = append(in.Muxes, doctor.Mux{Snapshot: m.Snapshot, Plan: m.Plan})
	}
	for _, orphan := range cl.Orphans {
		in.Orphans = append(in.Orphans, doctor.Orphan{Service: orphan.Service, Outcome: orphan.Outcome})
	}
	in.Services = lists.Services
	for _, ep := range lists.Endpoints {
		if namespace == "" || ep.Namespace == namespace {
			in.LegacyEndpoints = append(in.LegacyEndpoints, ep)
		}
	}
	readAgent(ctx, c, &in)
	readGitOps(ctx, c, &in)
	return in, nil
}

func (o *DoctorOptions) printCodes() error {
	doc := DoctorCodes{TypeMeta: typeMeta("DoctorCodes"), Codes: doctor.Catalog()}
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	return printDoctorCodes(o.Out, doc)
}

// severityCounts is "1 error, 2 warning, 0 info".
func severityCounts(fs []doctor.Finding) string {
	n := map[doctor.Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	parts := make([]string, 0, 3)
	for _, s := range []doctor.Severity{doctor.SeverityError, doctor.SeverityWarning, doctor.SeverityInfo} {
		parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
	}
	return strings.Join(parts, ", ")
}
