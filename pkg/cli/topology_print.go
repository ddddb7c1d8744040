package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// printTopologyTree draws each mux as a tree: channels under it, ports under them.
func printTopologyTree(w io.Writer, doc Topology, wide bool) error {
	var b strings.Builder
	if len(doc.Muxes) == 0 && len(doc.Unattached) == 0 {
		b.WriteString("No svcmux muxes or channels found in scope.\n")
	}
	for i, m := range doc.Muxes {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s/%s  address=%s  ports=%s  range=%s  state=%s", m.Namespace, m.Name, m.Address,
			limitText(m.Ports, m.Limit), orNone(m.PortRange), m.State)
		if m.Frozen != "" {
			fmt.Fprintf(&b, "  frozen=%s", m.Frozen)
		}
		b.WriteByte('\n')
		if m.StateProblem != "" {
			fmt.Fprintf(&b, "! state: %s\n", m.StateProblem)
		}
		if len(m.Channels) == 0 {
			b.WriteString("└── (no channels)\n")
		}
		for j, ch := range m.Channels {
			writeChannel(&b, ch, j == len(m.Channels)-1, wide)
		}
	}
	if len(doc.Unattached) > 0 {
		if len(doc.Muxes) > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("channels attached to no mux\n")
		for j, ch := range doc.Unattached {
			writeChannel(&b, ch, j == len(doc.Unattached)-1, wide)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeChannel(b *strings.Builder, ch TopologyChannel, last, wide bool) {
	branch, stem := "├── ", "│   "
	if last {
		branch, stem = "└── ", "    "
	}
	status := ch.Status
	if ch.Reason != "" && ch.Status != StatusAccepted {
		status += ": " + ch.Reason
	}
	fmt.Fprintf(b, "%s%s/%s  %s  backends %d/%d ready", branch, ch.Namespace, ch.Name, status, ch.Backends.Ready, ch.Backends.Total)
	if ch.Mux != "" {
		fmt.Fprintf(b, "  mux=%s", ch.Mux)
	}
	b.WriteByte('\n')
	if ch.Status != StatusAccepted && ch.Message != "" {
		fmt.Fprintf(b, "%s│ %s\n", stem, ch.Message)
	}
	for k, p := range ch.Ports {
		pb := "├── "
		if k == len(ch.Ports)-1 {
			pb = "└── "
		}
		fmt.Fprintf(b, "%s%s%s\n", stem, pb, portText(p, wide))
	}
}

// portText is "name:port->muxPort/PROTO", with "pending" for a port not served and,
// in wide output, the mux port's NodePort.
func portText(p TopologyPort, wide bool) string {
	mux := "pending"
	if p.MuxPort != 0 {
		mux = strconv.Itoa(int(p.MuxPort))
	}
	s := fmt.Sprintf("%s:%d->%s/%s", p.Name, p.Port, mux, p.Protocol)
	if wide && p.NodePort != 0 {
		s += fmt.Sprintf("  nodePort=%d", p.NodePort)
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// printTopologyDot draws the same graph in Graphviz: a node per mux and channel, an
// edge per channel port (dashed when the port is not served).
func printTopologyDot(w io.Writer, doc Topology) error {
	var b strings.Builder
	b.WriteString("digraph svcmux {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
	for _, m := range doc.Muxes {
		id := "mux:" + m.Namespace + "/" + m.Name
		fmt.Fprintf(&b, "  %s [shape=box, label=%s];\n", strconv.Quote(id),
			strconv.Quote(fmt.Sprintf("%s/%s\n%s\nports %s", m.Namespace, m.Name, m.Address, limitText(m.Ports, m.Limit))))
		for _, ch := range m.Channels {
			writeDotChannel(&b, ch, id)
		}
	}
	for _, ch := range doc.Unattached {
		target := ""
		if ch.Mux != "" {
			target = "mux:" + ch.Mux
			fmt.Fprintf(&b, "  %s [shape=box, style=dashed, label=%s];\n", strconv.Quote(target), strconv.Quote(ch.Mux+"\n(not found)"))
		}
		writeDotChannel(&b, ch, target)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDotChannel(b *strings.Builder, ch TopologyChannel, mux string) {
	id := "channel:" + ch.Namespace + "/" + ch.Name
	label := ch.Namespace + "/" + ch.Name + "\n" + ch.Status
	if ch.Reason != "" && ch.Status != StatusAccepted {
		label += ": " + ch.Reason
	}
	fmt.Fprintf(b, "  %s [shape=ellipse, label=%s];\n", strconv.Quote(id), strconv.Quote(label))
	if mux == "" {
		return
	}
	for _, p := range ch.Ports {
		style := "solid"
		if p.MuxPort == 0 {
			style = "dashed"
		}
		fmt.Fprintf(b, "  %s -> %s [style=%s, label=%s];\n", strconv.Quote(id), strconv.Quote(mux), style, strconv.Quote(portText(p, false)))
	}
}
