package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

func init() { extraCommands = append(extraCommands, NewCmdClaims) }

// Claim row statuses (SPEC §8).
const (
	ClaimOK         = "ok"
	ClaimStale      = "stale"     // channel or its port gone, or the channel left the mux
	ClaimUnclaimed  = "unclaimed" // a live mux port with no claim
	ClaimDuplicate  = "duplicate" // two claims for one (port, protocol)
	ClaimOutOfRange = "out-of-range"
	ClaimForeign    = "foreign"  // the state document names another mux
	ClaimMismatch   = "mismatch" // claim, live mux port and channel annotation disagree
	ClaimInvalid    = "invalid"  // the state document cannot be read at all
)

// ClaimsOptions are the flags of `kubectl svcmux claims`.
type ClaimsOptions struct {
	genericiooptions.IOStreams
	g      *Globals
	Output string
}

// ClaimsReport is the `-o json` document of `kubectl svcmux claims`.
type ClaimsReport struct {
	TypeMeta
	Claims []ClaimRow `json:"claims"`
}

// ClaimRow is one persisted claim (or one live port without a claim) and its health.
type ClaimRow struct {
	ChannelPort
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// NewCmdClaims builds `kubectl svcmux claims [MUX]`.
func NewCmdClaims(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &ClaimsOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "claims [MUX]",
		Short: "List every persisted port claim beside the live mux port and the channel's annotation",
		Long: `List every claim in each mux's state ConfigMap beside the live mux port and the
channel's ports annotation. Each row is ok or names a problem: stale (channel or port
gone), unclaimed (a live mux port with no claim), duplicate, out-of-range, foreign (the
state names another mux), mismatch (the sources disagree), invalid (unreadable state).
Exit 1 when any row is not ok.`,
		Example: `  kubectl svcmux claims
  kubectl svcmux claims mux -n svc-mux -o json`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeMuxes(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			cl, muxes, err := g.loadMuxes(cmd, args)
			if err != nil {
				return err
			}
			doc := ClaimsReport{TypeMeta: typeMeta("ClaimsReport"), Claims: []ClaimRow{}}
			for _, m := range muxes {
				doc.Claims = append(doc.Claims, claimRows(cl.Keys, m)...)
			}
			if err := o.print(doc); err != nil {
				return err
			}
			return found(hasProblem(doc.Claims))
		},
	}
	addOutputFlag(cmd, &o.Output)
	return cmd
}

func hasProblem(rows []ClaimRow) bool {
	for _, r := range rows {
		if r.Status != ClaimOK {
			return true
		}
	}
	return false
}

func (o *ClaimsOptions) print(doc ClaimsReport) error {
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	if len(doc.Claims) == 0 {
		_, err := fmt.Fprintln(o.Out, "No claims found in scope.")
		return err
	}
	header := []string{"MUX", "PORT", "CHANNEL", "PORT NAME", "SOURCE", "STATUS"}
	if o.Output == outputWide {
		header = append(header, "DETAIL")
	}
	t := newTable(o.Out, header...)
	for _, r := range doc.Claims {
		port := "-"
		if r.Port != 0 {
			port = fmt.Sprintf("%d/%s", r.Port, r.Protocol)
		}
		channel := "-"
		if r.Service != "" {
			channel = r.Namespace + "/" + r.Service
		}
		row := []string{r.Mux, port, channel, orDash(r.PortName), orDash(r.Source), r.Status}
		if o.Output == outputWide {
			row = append(row, r.Detail)
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	return t.Render()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// claimRows checks each claim of one mux against the live mux ports, the attached
// channels and their ports annotations; live ports nobody claims come last.
func claimRows(keys api.Keys, m MuxView) []ClaimRow {
	muxName := m.key()
	cm := m.Snapshot.StateConfigMap
	if cm == nil {
		return unclaimedRows(muxName, m, nil)
	}
	doc, err := state.Decode(cm.Data[api.StateKey])
	if err != nil {
		return []ClaimRow{{ChannelPort: ChannelPort{Mux: muxName}, Status: ClaimInvalid,
			Detail: fmt.Sprintf("state ConfigMap %s/%s: %v; run kubectl svcmux repair %s", cm.Namespace, cm.Name, err, muxName)}}
	}
	foreign := state.ValidateOwner(cm.Namespace, cm.Name, cm.Annotations[keys.Mux], doc, apiRef(m))
	ranges, rangeErr := ports.ParsePortRange(m.Mux.Annotations[keys.PortRange])
	live := livePortsByName(m.Mux)
	channels := channelsByRef(m)
	perKey := map[ports.Key]int{}
	for _, c := range doc.Claims {
		perKey[ports.NewKey(c.MuxPort, c.Protocol)]++
	}
	var rows []ClaimRow
	for _, c := range doc.Claims {
		row := ClaimRow{ChannelPort: ChannelPort{Mux: muxName, Port: c.MuxPort, Protocol: string(protoOr(c.Protocol)),
			Namespace: c.Namespace, Service: c.Service, PortName: c.PortName, Source: c.Source}, Status: ClaimOK}
		switch {
		case foreign != nil:
			row.Status, row.Detail = ClaimForeign, foreign.Error()
		case perKey[ports.NewKey(c.MuxPort, c.Protocol)] > 1:
			row.Status, row.Detail = ClaimDuplicate, fmt.Sprintf("%d/%s is claimed %d times", c.MuxPort, row.Protocol, perKey[ports.NewKey(c.MuxPort, c.Protocol)])
		default:
			row.Status, row.Detail = claimHealth(keys, c, channels, live, ranges, rangeErr)
		}
		rows = append(rows, row)
	}
	return append(rows, unclaimedRows(muxName, m, doc.Claims)...)
}

// claimHealth is ok, stale, out-of-range or mismatch for one readable claim of this mux.
func claimHealth(keys api.Keys, c state.Claim, channels map[string]*corev1.Service, live map[string]corev1.ServicePort,
	ranges ports.Ranges, rangeErr error) (string, string) {
	ref := c.Namespace + "/" + c.Service
	svc := channels[ref]
	if svc == nil {
		return ClaimStale, fmt.Sprintf("channel %s is gone or no longer attached to this mux", ref)
	}
	var declared *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == c.PortName {
			declared = &svc.Spec.Ports[i]
		}
	}
	if declared == nil {
		return ClaimStale, fmt.Sprintf("channel %s has no port named %q any more", ref, c.PortName)
	}
	if c.Source == state.SourceAuto && rangeErr == nil && len(ranges) > 0 && !ranges.Contains(c.MuxPort) {
		return ClaimOutOfRange, fmt.Sprintf("auto port %d is outside the mux port range %s", c.MuxPort, ranges)
	}
	var problems []string
	if lp, ok := live[ports.MuxPortName(c.Namespace, c.Service, c.PortName)]; !ok {
		problems = append(problems, "not on the live mux")
	} else if lp.Port != c.MuxPort || protoOr(lp.Protocol) != protoOr(c.Protocol) {
		problems = append(problems, fmt.Sprintf("live mux port is %d/%s", lp.Port, protoOr(lp.Protocol)))
	}
	if ann, ok := svc.Annotations[keys.Ports]; ok {
		if got, listed := ports.ParsePortsAnnotation(ann)[c.PortName]; listed && got != c.MuxPort {
			problems = append(problems, fmt.Sprintf("channel annotation says %d", got))
		}
	}
	if protoOr(declared.Protocol) != protoOr(c.Protocol) {
		problems = append(problems, fmt.Sprintf("channel port is %s", protoOr(declared.Protocol)))
	}
	if len(problems) > 0 {
		return ClaimMismatch, strings.Join(problems, "; ")
	}
	return ClaimOK, ""
}

// unclaimedRows are the live mux ports (not the placeholder) that no claim names.
func unclaimedRows(muxName string, m MuxView, claims []state.Claim) []ClaimRow {
	claimed := map[string]bool{}
	for _, c := range claims {
		claimed[ports.MuxPortName(c.Namespace, c.Service, c.PortName)] = true
	}
	owners := map[string][3]string{}
	for _, ch := range m.Snapshot.Channels {
		for _, sp := range ch.Spec.Ports {
			owners[ports.MuxPortName(ch.Namespace, ch.Name, sp.Name)] = [3]string{ch.Namespace, ch.Name, sp.Name}
		}
	}
	var rows []ClaimRow
	for _, lp := range m.Mux.Spec.Ports {
		if claimed[lp.Name] || (lp.Name == api.PlaceholderPortName && lp.Port == api.PlaceholderPort) {
			continue
		}
		row := ClaimRow{ChannelPort: ChannelPort{Mux: muxName, Port: lp.Port, Protocol: string(protoOr(lp.Protocol))}, Status: ClaimUnclaimed,
			Detail: fmt.Sprintf("live mux port %s has no claim", lp.Name)}
		if o, ok := owners[lp.Name]; ok {
			row.Namespace, row.Service, row.PortName = o[0], o[1], o[2]
			row.Detail += fmt.Sprintf(" (it is %s/%s:%s's; the agent records it on its next pass)", o[0], o[1], o[2])
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Port < rows[j].Port })
	return rows
}

func livePortsByName(mux *corev1.Service) map[string]corev1.ServicePort {
	out := map[string]corev1.ServicePort{}
	for _, sp := range mux.Spec.Ports {
		out[sp.Name] = sp
	}
	return out
}

func channelsByRef(m MuxView) map[string]*corev1.Service {
	out := map[string]*corev1.Service{}
	for _, ch := range m.Snapshot.Channels {
		out[ch.Namespace+"/"+ch.Name] = ch
	}
	return out
}

func apiRef(m MuxView) api.MuxRef { return api.MuxRef{Namespace: m.Mux.Namespace, Name: m.Mux.Name} }

func protoOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
