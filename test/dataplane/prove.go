package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/test/world"
)

// Proof is what one probe through one mux port found.
type Proof struct {
	Mux     string             // namespace/name
	Port    corev1.ServicePort // the mux port
	Channel string             // "namespace/service:portName" owning it ("" if unknown)
	Via     Via
	Addr    string
	Answer  Answer
	Err     error
	Took    time.Duration // until the first answer (retries included)
}

// ProveMux connects through every port of a mux (but the placeholder) via
// its cluster IP, the node's NodePort and its load-balancer IP, and reports
// which backend pod answered on which port. Each probe is retried every
// 100 ms for up to wait (0: once), so it can run right after a change.
// prefix is the svcmux annotation prefix ("" for the default); it names the
// channels owning each port from the mux's channels annotation.
func (n *Node) ProveMux(ctx context.Context, namespace, name, prefix string, wait time.Duration) ([]Proof, error) {
	keys := api.NewKeys(prefix)
	mux, err := n.client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get mux %s/%s: %w", namespace, name, err)
	}
	owners := n.portOwners(ctx, mux, keys)
	var proofs []Proof
	for _, sp := range mux.Spec.Ports {
		if sp.Name == "placeholder" {
			continue
		}
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		for _, via := range Vias {
			p := Proof{Mux: namespace + "/" + name, Port: sp, Channel: owners[sp.Name], Via: via}
			p.Addr, p.Err = n.Address(via, mux, sp)
			if p.Err == nil {
				start := time.Now()
				for {
					p.Answer, p.Err = n.Ask(ctx, via, sp.Protocol, p.Addr, DefaultTimeout)
					if p.Err == nil || time.Since(start) >= wait || ctx.Err() != nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				p.Took = time.Since(start)
			}
			proofs = append(proofs, p)
		}
	}
	return proofs, nil
}

// portOwners maps mux port names to "namespace/service:portName" of the
// attached channels listed in the mux's channels annotation (SPEC §2: the
// name is the first 7 hex characters of SHA-256 of namespace/service/port).
func (n *Node) portOwners(ctx context.Context, mux *corev1.Service, keys api.Keys) map[string]string {
	var channels []string
	_ = json.Unmarshal([]byte(mux.Annotations[keys.Channels]), &channels)
	owners := map[string]string{}
	for _, ch := range channels {
		ns, svcName, ok := strings.Cut(ch, "/")
		if !ok {
			continue
		}
		svc, err := n.client.CoreV1().Services(ns).Get(ctx, svcName, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for _, p := range svc.Spec.Ports {
			owners[world.PortName(ns, svcName, p.Name)] = ch + ":" + p.Name
		}
	}
	return owners
}

// WriteProofs prints proofs as a table:
//
//	MUX PORT    CHANNEL          VIA           ADDRESS             ANSWERED BY
//	20000/TCP   shop/api:http    ClusterIP     10.96.0.12:20000    shop/api-0 port 8080/TCP
func WriteProofs(w io.Writer, proofs []Proof) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MUX PORT\tCHANNEL\tVIA\tADDRESS\tANSWERED BY")
	for _, p := range proofs {
		got := fmt.Sprintf("%s port %d/%s", p.Answer.Pod, p.Answer.Port, p.Answer.Protocol)
		if p.Err != nil {
			got = "FAILED: " + p.Err.Error()
		}
		channel := p.Channel
		if channel == "" {
			channel = "?"
		}
		fmt.Fprintf(tw, "%d/%s\t%s\t%s\t%s\t%s\n", p.Port.Port, p.Port.Protocol, channel, p.Via, p.Addr, got)
	}
	return tw.Flush()
}

// AdoptPods serves every pod of a namespace (see AdoptPod): each listens on
// its container ports and on the numeric target ports of the Services in the
// namespace that select it (named target ports resolve to container ports).
// For a demo that created its pods before the node existed.
func (n *Node) AdoptPods(ctx context.Context, namespace string) ([]*Pod, error) {
	pods, err := n.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	svcs, err := n.client.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var out []*Pod
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		var extra []corev1.ContainerPort
		for _, svc := range svcs.Items {
			if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				target := sp.TargetPort
				if target.Type == intstr.String {
					continue
				}
				port := target.IntVal
				if port == 0 {
					port = sp.Port
				}
				extra = append(extra, corev1.ContainerPort{ContainerPort: port, Protocol: sp.Protocol})
			}
		}
		p, err := n.AdoptPod(ctx, pod, extra...)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}
