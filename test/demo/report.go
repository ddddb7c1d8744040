package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/state"
)

// writeReport prints what an operator wants to see once the agent has
// converged: the mux's ports and topology, each channel's outcome, the mux
// endpoints and the persisted claims, read back from the API server.
func (d *demo) writeReport(ctx context.Context, w io.Writer) error {
	c := d.cp.Client()
	mux, err := c.CoreV1().Services(muxNamespace).Get(ctx, muxName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "svcmux demo: %s\n\n", strings.Join(d.timings, ", "))

	fmt.Fprintf(w, "Mux %s/%s  (type %s, load balancer %s, %s=%q)\n", mux.Namespace, mux.Name,
		mux.Spec.Type, ingressOf(mux), keys.PortRange, mux.Annotations[keys.PortRange])
	fmt.Fprintf(w, "  %s: %s\n\n", keys.Summary, mux.Annotations[keys.Summary])
	fmt.Fprintln(w, "  spec.ports:")
	tw := table(w, "    ")
	tw.row("NAME", "PORT", "PROTOCOL", "NODEPORT")
	for _, p := range mux.Spec.Ports {
		tw.row(p.Name, p.Port, p.Protocol, p.NodePort)
	}
	tw.flush()
	fmt.Fprintf(w, "\n  %s:\n", keys.Topology)
	fmt.Fprintln(w, indent(mux.Annotations[keys.Topology], "    "))

	fmt.Fprintf(w, "\nChannels (namespace %s, loadBalancerClass %s%s.%s):\n", channelNamespace, keys.ClassPrefix(), muxName, muxNamespace)
	tw = table(w, "  ")
	tw.row("CHANNEL", "MAPPING", keys.Ports, "STATUS IP", "ACCEPTED")
	for _, ch := range channels {
		svc, err := c.CoreV1().Services(channelNamespace).Get(ctx, ch.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		tw.row(ch.name, ch.mapping, svc.Annotations[keys.Ports], ingressOf(svc), shortCondition(accepted(svc)))
	}
	tw.flush()

	fmt.Fprintf(w, "\nMux EndpointSlices (managed by %s):\n", api.EndpointSliceManagedBy)
	tw = table(w, "  ")
	tw.row("SLICE", "PORTS (mux port name -> target)", "READY ENDPOINTS")
	for _, sl := range d.muxSlices(ctx) {
		tw.row(sl.Name, slicePorts(sl), sliceEndpoints(sl))
	}
	tw.flush()

	name := state.ConfigMapName(muxName, mux.Annotations[keys.AllocationConfigMap])
	cm, err := c.CoreV1().ConfigMaps(muxNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nState ConfigMap %s/%s, %s:\n", muxNamespace, name, api.StateKey)
	fmt.Fprintln(w, indent(cm.Data[api.StateKey], "  "))
	return nil
}

// writeHints ends the report with commands to look further.
func (d *demo) writeHints(w io.Writer) {
	kubectl := d.cp.Binary("kubectl")
	if wd, err := filepath.Abs("."); err == nil {
		if rel, err := filepath.Rel(wd, kubectl); err == nil && !strings.HasPrefix(rel, "..") {
			kubectl = rel
		}
	}
	fmt.Fprintf(w, "\nLook around:\n")
	fmt.Fprintf(w, "  export KUBECONFIG=%s\n", d.path(kubeconfigFile))
	fmt.Fprintf(w, "  %s get svc -A\n", kubectl)
	fmt.Fprintf(w, "  %s describe svc -n %s api\n", kubectl, channelNamespace)
	fmt.Fprintf(w, "  %s get events -n %s\n", kubectl, channelNamespace)
	fmt.Fprintf(w, "Logs: %s (agent), %s/ (etcd, kube-apiserver, kube-controller-manager), %s\n",
		d.path(agentLogFile), d.path(cpLogsLink), d.path("demo.log"))
}

func slicePorts(sl discoveryv1.EndpointSlice) string {
	var out []string
	for _, p := range sl.Ports {
		s := "?"
		if p.Name != nil {
			s = *p.Name
		}
		if p.Port != nil {
			s += fmt.Sprintf(" -> %d", *p.Port)
		}
		if p.Protocol != nil {
			s += "/" + string(*p.Protocol)
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func sliceEndpoints(sl discoveryv1.EndpointSlice) string {
	var out []string
	for _, ep := range sl.Endpoints {
		if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
			out = append(out, ep.Addresses...)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// shortCondition is "True (Accepted)", or with the message when not True.
func shortCondition(c *metav1.Condition) string {
	if c == nil || c.Status != metav1.ConditionTrue {
		return describeCondition(c)
	}
	return fmt.Sprintf("%s (%s)", c.Status, c.Reason)
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// tableWriter is a tabwriter with a left margin.
type tableWriter struct {
	tw     *tabwriter.Writer
	margin string
}

func table(w io.Writer, margin string) *tableWriter {
	return &tableWriter{tw: tabwriter.NewWriter(w, 0, 0, 3, ' ', 0), margin: margin}
}

func (t *tableWriter) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, t.margin+strings.Join(s, "\t"))
}

func (t *tableWriter) flush() { _ = t.tw.Flush() }
