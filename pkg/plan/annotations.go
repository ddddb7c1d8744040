package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nowakeai/svcmux/pkg/api"
)

// buildAnnotations computes the agent-owned mux annotations: channels, summary,
// topology (kept under the size cap) and the aggregated external-dns keys.
func (p *pass) buildAnnotations() {
	live := p.snap.Mux.Annotations
	want := map[string]string{}
	var remove []string
	dns := p.muxDNS()
	shownDNS := dns
	if shownDNS == "" {
		shownDNS = "pending"
	}
	want[p.keys.Summary] = fmt.Sprintf("%d channel(s) | %d port(s) | %d pod(s) | DNS: %s",
		p.plan.Stats.Channels, p.plan.Stats.Ports, p.plan.Stats.ReadyPods, shownDNS)
	remove = p.externalDNS(want)

	// Size: Kubernetes refuses a Service whose annotations pass 256 KiB. Everything
	// else on the mux counts first; the channels list and the topology share what is
	// left of 128 KiB (or, when users alone fill that, of 248 KiB). The summary keeps
	// the true counts and the plugin shows the whole picture.
	used := len(p.keys.Channels) + len(p.keys.Topology)
	for k, v := range live {
		if _, mine := want[k]; !mine && k != p.keys.Channels && k != p.keys.Topology && !contains(remove, k) {
			used += len(k) + len(v)
		}
	}
	for k, v := range want {
		used += len(k) + len(v)
	}
	limit := api.MaxAnnotationBytes
	if used+minTopologyBytes+2 > limit {
		limit = api.HardAnnotationBytes
	}
	channels := p.channelsWithin(min(maxChannelsBytes, limit-used-minTopologyBytes))
	want[p.keys.Channels] = channels
	want[p.keys.Topology] = p.topology(dns, limit-used-len(channels))

	p.plan.Annotations = want
	for _, k := range remove {
		if _, ok := live[k]; ok {
			p.plan.RemoveAnnotations = append(p.plan.RemoveAnnotations, k)
		}
	}
	if annotationsDiffer(live, want, p.plan.RemoveAnnotations) {
		p.normalMux(api.ReasonMuxAnnotationsUpdated, "Mux annotations updated: "+want[p.keys.Summary])
	}
}

func annotationsDiffer(live, want map[string]string, remove []string) bool {
	return len(AnnotationChanges(live, want, remove)) > 0
}

// muxDNS is the mux's first ingress hostname or IP, "" while the cloud has none.
func (p *pass) muxDNS() string {
	ingress := p.snap.Mux.Status.LoadBalancer.Ingress
	if len(ingress) == 0 {
		return ""
	}
	if ingress[0].Hostname != "" {
		return ingress[0].Hostname
	}
	return ingress[0].IP
}

const (
	// maxChannelsBytes caps the channels list so the topology keeps room.
	maxChannelsBytes = 64 * 1024
	// minTopologyBytes is room for the shortest topology (overflow line + summary).
	minTopologyBytes = 160
)

// channelsWithin is the channels JSON list of as many attached channels, in order,
// as fit in budget bytes (at least "[]"): a shortened list is still valid JSON.
func (p *pass) channelsWithin(budget int) string {
	refs := make([]string, 0, len(p.channels))
	size := 2
	for _, c := range p.channels {
		n := len(c.refStr) + 2
		if len(refs) > 0 {
			n += 2
		}
		if size+n > budget {
			break
		}
		size += n
		refs = append(refs, c.refStr)
	}
	return channelsJSON(refs)
}

// channelsJSON renders ["a/b", "c/d"] as Python's json.dumps did (comma + space).
// Each ref is quoted as %q does (strconv.Quote), into one buffer: every mux slice
// carries such a list.
func channelsJSON(refs []string) string {
	var b strings.Builder
	b.Grow(channelsJSONSize(refs))
	writeChannelsJSON(&b, refs)
	return b.String()
}

// channelsJSONSize is the length of channelsJSON(refs) when no ref needs escaping.
func channelsJSONSize(refs []string) int {
	n := 2
	for _, r := range refs {
		n += len(r) + 4
	}
	return n
}

func writeChannelsJSON(b *strings.Builder, refs []string) {
	b.WriteByte('[')
	for i, r := range refs {
		if i > 0 {
			b.WriteString(", ")
		}
		if plainASCII(r) {
			b.WriteByte('"') // what strconv.Quote makes of it
			b.WriteString(r)
			b.WriteByte('"')
		} else {
			b.WriteString(strconv.Quote(r))
		}
	}
	b.WriteByte(']')
}

// topology renders the readable picture of the mux within budget bytes; channels
// that do not fit are counted on a "… and N more channel(s)" line. Its lines are
// joined by "\n"; each channel's block is built in one reused buffer.
func (p *pass) topology(dns string, budget int) string {
	var head []string
	if dns != "" {
		head = append(head, "Mux DNS: "+dns, "")
	}
	head = append(head, "Channels:")
	footer := []string{"", fmt.Sprintf("Summary: %d channel(s), %d port(s), %d backend pod(s)",
		p.plan.Stats.Channels, p.plan.Stats.DeclaredPorts, p.plan.Stats.ReadyPods)}
	headText, footerText := strings.Join(head, "\n"), strings.Join(footer, "\n")
	size := len(headText) + len(footerText) + 1
	// Reserve room for the overflow line so it always fits.
	reserve := len(fmt.Sprintf("\n  … and %d more channel(s)", len(p.channels)))
	var b strings.Builder
	b.WriteString(headText)
	var block []byte
	for i, c := range p.channels {
		block = p.appendChannelBlock(block[:0], c, dns)
		if size+len(block)+1+reserve > budget {
			fmt.Fprintf(&b, "\n  … and %d more channel(s)", len(p.channels)-i)
			break
		}
		size += len(block) + 1
		b.WriteByte('\n')
		b.Write(block)
	}
	b.WriteByte('\n')
	b.WriteString(footerText)
	return b.String()
}

// appendChannelBlock appends one channel's lines of the topology.
func (p *pass) appendChannelBlock(b []byte, c *channelView, muxDNS string) []byte {
	b = append(b, "  - "...)
	b = append(b, c.refStr...)
	b = append(b, "\n    DNS: "...)
	if hosts := splitList(c.dns.hostnames); len(hosts) > 0 {
		b = append(b, hosts[0]...)
		if len(hosts) > 1 {
			b = append(b, " (+"...)
			b = strconv.AppendInt(b, int64(len(hosts)-1), 10)
			b = append(b, " more)"...)
		}
		b = append(b, " (custom)"...)
	} else if muxDNS != "" {
		b = append(b, muxDNS...)
	} else {
		b = append(b, "pending"...)
	}
	b = append(b, "\n    Ports:"...)
	served := c.decision.served
	for _, sp := range c.svc.Spec.Ports {
		name := sp.Name
		if name == "" {
			name = "unnamed"
		}
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(sp.Port), 10)
		b = append(b, "->"...)
		if mp, ok := servedPortNamed(served, sp.Name); ok && sp.Name != "" {
			b = strconv.AppendInt(b, int64(mp), 10)
		} else {
			b = append(b, "pending"...)
		}
	}
	b = append(b, "\n    Backend: "...)
	b = strconv.AppendInt(b, int64(c.ready), 10)
	return append(b, " pod(s) ready"...)
}

// servedPortNamed is the mux port of the served port named name (the last one, as a
// map from names would hold): a channel has a handful of ports, so a scan.
func servedPortNamed(served []servedPort, name string) (int32, bool) {
	port, ok := int32(0), false
	for i := range served {
		if served[i].pv.name == name {
			port, ok = served[i].key.Port, true
		}
	}
	return port, ok
}

// splitList splits a comma list, trimming items and skipping empty ones.
func splitList(s string) []string {
	if s == "" {
		return nil // most channels set no such annotation
	}
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// plainASCII reports whether s is printable ASCII without '"' or '\\', which
// strconv.Quote only wraps in quotes.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
