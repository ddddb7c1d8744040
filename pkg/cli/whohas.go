package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/ports"
	"github.com/nowakeai/svcmux/pkg/state"
)

func init() { extraCommands = append(extraCommands, NewCmdWhoHas) }

// WhoHasOptions are the flags of `kubectl svcmux who-has`.
type WhoHasOptions struct {
	genericiooptions.IOStreams
	g        *Globals
	Output   string
	port     int32
	protocol corev1.Protocol
}

// WhoHas is the `-o json` document of `kubectl svcmux who-has`.
type WhoHas struct {
	TypeMeta
	Port     int32       `json:"port"`
	Protocol string      `json:"protocol"`
	Owners   []PortOwner `json:"owners"`
	Free     []string    `json:"free"`
}

// PortOwner is the channel port that holds a public port on one mux.
type PortOwner struct {
	ChannelPort
	// Persisted: the claim is in the state ConfigMap; false when the agent's next
	// pass first records it (recovered from the live mux or the channel's annotation).
	Persisted bool `json:"persisted"`
}

// NewCmdWhoHas builds `kubectl svcmux who-has PORT[/PROTO]`.
func NewCmdWhoHas(streams genericiooptions.IOStreams, g *Globals) *cobra.Command {
	o := &WhoHasOptions{IOStreams: streams, g: g}
	cmd := &cobra.Command{
		Use:   "who-has PORT[/PROTO]",
		Short: "Show which channel owns a public port on each mux in scope",
		Long: `Show which channel owns a public port (TCP unless /UDP or /SCTP is given) on each
mux in scope, as the agent decides it: the persisted claim, or the owner it recovers.
A port nobody holds is reported free.`,
		Example: `  kubectl svcmux who-has 443
  kubectl svcmux who-has 53/UDP -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateOutput(cmd, o.Output); err != nil {
				return err
			}
			if err := o.parse(args[0]); err != nil {
				return &ExitError{Code: ExitCannotRun, Err: err}
			}
			cl, err := g.loadCluster(cmd.Context(), g.namespaceScope(cmd))
			if err != nil {
				return err
			}
			return o.print(o.owners(cl))
		},
	}
	addOutputFlag(cmd, &o.Output, outputTable, outputJSON, outputYAML)
	return cmd
}

// parse reads "443", "53/udp", "53/UDP".
func (o *WhoHasOptions) parse(arg string) error {
	num, proto, _ := strings.Cut(arg, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want a number in 1-65535, optionally /TCP, /UDP or /SCTP", arg)
	}
	o.port, o.protocol = int32(n), corev1.ProtocolTCP
	switch strings.ToUpper(proto) {
	case "", "TCP":
	case "UDP":
		o.protocol = corev1.ProtocolUDP
	case "SCTP":
		o.protocol = corev1.ProtocolSCTP
	default:
		return fmt.Errorf("protocol %q in %q: want TCP, UDP or SCTP", proto, arg)
	}
	return nil
}

// owners reads the planned outcome of every mux: a served mapping on that public
// port is its owner, with the source of the claim the plan persists.
func (o *WhoHasOptions) owners(cl *Cluster) WhoHas {
	doc := WhoHas{TypeMeta: typeMeta("WhoHas"), Port: o.port, Protocol: string(o.protocol), Owners: []PortOwner{}, Free: []string{}}
	for _, m := range cl.Muxes {
		sources := map[string]string{}
		for _, c := range m.Plan.State.Document.Claims {
			sources[c.Key()] = c.Source
		}
		persisted := persistedClaims(m)
		protocols := channelPortProtocols(m)
		before := len(doc.Owners)
		for _, oc := range m.Plan.Channels {
			for _, mp := range oc.Mappings {
				proto := protocols[oc.Channel.String()+"/"+mp.Name]
				if mp.MuxPort != o.port || proto != o.protocol {
					continue
				}
				key := string(proto) + ":" + oc.Channel.Namespace + ":" + oc.Channel.Name + ":" + mp.Name
				doc.Owners = append(doc.Owners, PortOwner{ChannelPort: ChannelPort{Mux: m.key(), Port: o.port, Protocol: string(proto),
					Namespace: oc.Channel.Namespace, Service: oc.Channel.Name, PortName: mp.Name, Source: orDash(sources[key])},
					Persisted: persisted[key]})
			}
		}
		if len(doc.Owners) == before {
			doc.Free = append(doc.Free, m.key())
		}
	}
	return doc
}

// persistedClaims are the claim keys in the live state ConfigMap (none when it is
// missing or unreadable).
func persistedClaims(m MuxView) map[string]bool {
	out := map[string]bool{}
	if cm := m.Snapshot.StateConfigMap; cm != nil && m.Plan.State.Readable {
		doc, err := state.Decode(cm.Data[api.StateKey])
		if err == nil {
			for _, c := range doc.Claims {
				out[c.Key()] = true
			}
		}
	}
	return out
}

// channelPortProtocols maps "ns/name/portName" to the channel port's protocol.
func channelPortProtocols(m MuxView) map[string]corev1.Protocol {
	out := map[string]corev1.Protocol{}
	for _, ch := range m.Snapshot.Channels {
		for _, sp := range ch.Spec.Ports {
			out[ch.Namespace+"/"+ch.Name+"/"+sp.Name] = protoOr(sp.Protocol)
		}
	}
	return out
}

func (o *WhoHasOptions) print(doc WhoHas) error {
	if ok, err := printDocument(o.Out, o.Output, doc); ok {
		return err
	}
	key := fmt.Sprintf("%d/%s", doc.Port, doc.Protocol)
	if len(doc.Owners) == 0 {
		_, err := fmt.Fprintf(o.Out, "%s is free on every mux in scope (%d mux(es)).\n", key, len(doc.Free))
		return err
	}
	t := newTable(o.Out, "MUX", "PORT", "CHANNEL", "PORT NAME", "SOURCE", "CLAIM", "MUX PORT NAME")
	for _, ow := range doc.Owners {
		claim := "persisted"
		if !ow.Persisted {
			claim = "recovered"
		}
		if err := t.Append([]string{ow.Mux, key, ow.Namespace + "/" + ow.Service, ow.PortName, ow.Source, claim,
			ports.MuxPortName(ow.Namespace, ow.Service, ow.PortName)}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(doc.Free) > 0 {
		_, err := fmt.Fprintf(o.Out, "free on: %s\n", strings.Join(doc.Free, ", "))
		return err
	}
	return nil
}
