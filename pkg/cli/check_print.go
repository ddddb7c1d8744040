package cli

import (
	"fmt"
	"io"
	"strings"
)

// printCheckTable prints the muxes in the files, then their channels, then why
// each refused channel or invalid mux is refused, then the notes.
func printCheckTable(w io.Writer, doc CheckReport, wide bool) error {
	if err := printCheckMuxes(w, doc.Muxes); err != nil {
		return err
	}
	if err := printCheckChannels(w, doc.Channels, wide); err != nil {
		return err
	}
	var b strings.Builder
	writeCheckProblems(&b, doc)
	b.WriteByte('\n')
	writeCheckNotes(&b, doc)
	_, err := io.WriteString(w, b.String())
	return err
}

func printCheckMuxes(w io.Writer, muxes []CheckMux) error {
	if len(muxes) == 0 {
		return nil
	}
	t := newTable(w, "MUX", "STATUS", "PORTS", "RANGE", "CHANNELS", "FILE")
	for _, m := range muxes {
		status := m.Status
		if m.Status != MuxValid {
			status += ": " + m.Reason
		}
		if m.New {
			status += " (new)"
		}
		if err := t.Append([]string{m.Namespace + "/" + m.Name, status, limitText(m.Ports, m.Limit),
			orNone(m.PortRange), fmt.Sprint(m.Channels), checkWhere(m.File, m.Line)}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

func printCheckChannels(w io.Writer, channels []CheckChannel, wide bool) error {
	if len(channels) == 0 {
		_, err := fmt.Fprintln(w, "No svcmux channels in the files.")
		return err
	}
	header := []string{"CHANNEL", "MUX", "STATUS", "PORTS", "FILE"}
	if wide {
		header = append(header, "MESSAGE")
	}
	t := newTable(w, header...)
	for _, c := range channels {
		status := c.Status
		if c.Status != StatusAccepted {
			status += ": " + c.Reason
		}
		row := []string{c.Namespace + "/" + c.Name, orNone(c.Mux), status, checkPortsText(c.Ports), checkWhere(c.File, c.Line)}
		if wide {
			row = append(row, c.Message)
		}
		if err := t.Append(row); err != nil {
			return err
		}
	}
	return t.Render()
}

// writeCheckProblems lists, after a blank line, "FILE:LINE: what: reason: message"
// for each invalid mux, mux warning and channel not accepted.
func writeCheckProblems(b *strings.Builder, doc CheckReport) {
	var lines []string
	for _, m := range doc.Muxes {
		if m.Status != MuxValid {
			lines = append(lines, fmt.Sprintf("%s: mux %s/%s %s: %s: %s", checkWhere(m.File, m.Line), m.Namespace, m.Name, m.Status, m.Reason, m.Message))
		}
		for _, wn := range m.Warnings {
			lines = append(lines, fmt.Sprintf("%s: mux %s/%s warning: %s: %s", checkWhere(m.File, m.Line), m.Namespace, m.Name, wn.Reason, wn.Message))
		}
	}
	for _, c := range doc.Channels {
		if c.Status != StatusAccepted {
			lines = append(lines, fmt.Sprintf("%s: %s/%s %s: %s: %s", checkWhere(c.File, c.Line), c.Namespace, c.Name, c.Status, c.Reason, c.Message))
		}
	}
	if len(lines) > 0 {
		b.WriteString("\n" + strings.Join(lines, "\n") + "\n")
	}
}

func writeCheckNotes(b *strings.Builder, doc CheckReport) {
	fmt.Fprintf(b, "note: %s.\n", doc.Note)
	if !doc.Settled {
		fmt.Fprintf(b, "note: the plan had not settled after %d passes: the agent may go on changing these channels.\n", doc.Passes)
	}
	if doc.Offline {
		b.WriteString("note: --offline: planned on the files alone, not on the live cluster.\n")
	}
	fmt.Fprintf(b, "note: objects without metadata.namespace are in namespace %q.\n", doc.Namespace)
	if len(doc.Ignored) > 0 {
		var parts []string
		total := 0
		for _, ig := range doc.Ignored {
			parts = append(parts, fmt.Sprintf("%d %s", ig.Count, ig.Kind))
			total += ig.Count
		}
		fmt.Fprintf(b, "note: ignored %d object(s) the agent does not read: %s.\n", total, strings.Join(parts, ", "))
	}
}

// checkPortsText is "name:port->muxPort/PROTO, …" with "pending" for a port not served.
func checkPortsText(ps []CheckPort) string {
	if len(ps) == 0 {
		return "none"
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, portText(TopologyPort{Name: p.Name, Port: p.Port, MuxPort: p.MuxPort, Protocol: p.Protocol}, false))
	}
	return strings.Join(out, ", ")
}

func checkWhere(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }
