package plan

import (
	"fmt"
	"strings"

	"github.com/nowakeai/svcmux/pkg/api"
)

// buildAnnotations computes the agent-owned mux annotations: channels, summary,
// topology (kept under the size cap) and the aggregated external-dns keys.
func (p *pass) buildAnnotations() {
	live := p.snap.Mux.Annotations
	want := map[string]string{}
	var remove []string
	refs := make([]string, len(p.channels))
	for i, c := range p.channels {
		refs[i] = c.ref.String()
	}
	want[p.keys.Channels] = channelsJSON(refs)
	dns := p.muxDNS()
	shownDNS := dns
	if shownDNS == "" {
		shownDNS = "pending"
	}
	want[p.keys.Summary] = fmt.Sprintf("%d channel(s) | %d port(s) | %d pod(s) | DNS: %s",
		p.plan.Stats.Channels, p.plan.Stats.Ports, p.plan.Stats.ReadyPods, shownDNS)
	remove = p.externalDNS(want)

	// Everything but the topology counts against the cap first; the topology gets the rest.
	used := 0
	for k, v := range live {
		if _, mine := want[k]; !mine && k != p.keys.Topology && !contains(remove, k) {
			used += len(k) + len(v)
		}
	}
	for k, v := range want {
		used += len(k) + len(v)
	}
	want[p.keys.Topology] = p.topology(dns, api.MaxAnnotationBytes-used-len(p.keys.Topology))

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
	if !metaContains(live, want) {
		return true
	}
	for _, k := range remove {
		if _, ok := live[k]; ok {
			return true
		}
	}
	return false
}

// muxDNS is the mux's first ingress hostname or IP, "" while the cloud has none.
func (p *pass) muxDNS() string {
	for _, in := range p.snap.Mux.Status.LoadBalancer.Ingress {
		if in.Hostname != "" {
			return in.Hostname
		}
		return in.IP
	}
	return ""
}

// channelsJSON renders ["a/b", "c/d"] as Python's json.dumps did (comma + space).
func channelsJSON(refs []string) string {
	quoted := make([]string, len(refs))
	for i, r := range refs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// topology renders the readable picture of the mux within budget bytes; channels
// that do not fit are counted on a "… and N more channel(s)" line.
func (p *pass) topology(dns string, budget int) string {
	var head []string
	if dns != "" {
		head = append(head, "Mux DNS: "+dns, "")
	}
	head = append(head, "Channels:")
	footer := []string{"", fmt.Sprintf("Summary: %d channel(s), %d port(s), %d backend pod(s)",
		p.plan.Stats.Channels, p.plan.Stats.DeclaredPorts, p.plan.Stats.ReadyPods)}
	size := len(strings.Join(head, "\n")) + len(strings.Join(footer, "\n")) + 1
	// Reserve room for the overflow line so it always fits.
	reserve := len(fmt.Sprintf("\n  … and %d more channel(s)", len(p.channels)))
	body := []string{}
	for i, c := range p.channels {
		block := p.channelBlock(c, dns)
		if size+len(block)+1+reserve > budget {
			body = append(body, fmt.Sprintf("  … and %d more channel(s)", len(p.channels)-i))
			break
		}
		size += len(block) + 1
		body = append(body, block)
	}
	lines := append(append(head, body...), footer...)
	return strings.Join(lines, "\n")
}

func (p *pass) channelBlock(c *channelView, muxDNS string) string {
	dns := muxDNS
	if dns == "" {
		dns = "pending"
	}
	if hosts := splitList(c.svc.Annotations[p.keys.ExternalDNSHostname]); len(hosts) > 0 {
		dns = hosts[0]
		if len(hosts) > 1 {
			dns += fmt.Sprintf(" (+%d more)", len(hosts)-1)
		}
		dns += " (custom)"
	}
	mapped := map[string]int32{}
	for _, sp := range p.decisions[c].served {
		mapped[sp.pv.name] = sp.key.Port
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  - %s\n    DNS: %s\n    Ports:", c.ref, dns)
	for _, sp := range c.svc.Spec.Ports {
		name := sp.Name
		if name == "" {
			name = "unnamed"
		}
		if mp, ok := mapped[sp.Name]; ok && sp.Name != "" {
			fmt.Fprintf(&b, " %s:%d->%d", name, sp.Port, mp)
		} else {
			fmt.Fprintf(&b, " %s:%d->pending", name, sp.Port)
		}
	}
	fmt.Fprintf(&b, "\n    Backend: %d pod(s) ready", p.readyByChannel[c.ref])
	return b.String()
}

// splitList splits a comma list, trimming items and skipping empty ones.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
