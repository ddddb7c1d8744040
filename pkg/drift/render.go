package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The renderings below show what the comparison looks at, one line each, so a
// desired and a live value can be read side by side.

// servicePorts is "name:port/PROTO, …" in the object's order; nodePort and
// targetPort are left out as the comparison leaves them out.
func servicePorts(list []corev1.ServicePort) string {
	if len(list) == 0 {
		return "<none>"
	}
	parts := make([]string, len(list))
	for i, sp := range list {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		parts[i] = fmt.Sprintf("%s:%d/%s", sp.Name, sp.Port, proto)
	}
	return strings.Join(parts, ", ")
}

// ingress is the IPs and hostnames, "<none>" when empty.
func ingress(list []corev1.LoadBalancerIngress) string {
	if len(list) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(list))
	for _, in := range list {
		switch {
		case in.IP != "" && in.Hostname != "":
			parts = append(parts, in.IP+" ("+in.Hostname+")")
		case in.IP != "":
			parts = append(parts, in.IP)
		default:
			parts = append(parts, in.Hostname)
		}
	}
	return strings.Join(parts, ", ")
}

// condition is "Status Reason (generation N): message".
func condition(c *metav1.Condition) string {
	if c == nil {
		return Absent
	}
	s := fmt.Sprintf("%s %s (generation %d)", c.Status, c.Reason, c.ObservedGeneration)
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

// sliceSummary is "IPv4; ports name:port/PROTO; endpoints addr ready|not-ready".
func sliceSummary(s *discoveryv1.EndpointSlice) string {
	ports := make([]string, 0, len(s.Ports))
	for _, p := range s.Ports {
		name, proto, num := "", corev1.ProtocolTCP, int32(0)
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port != nil {
			num = *p.Port
		}
		ports = append(ports, fmt.Sprintf("%s:%d/%s", name, num, proto))
	}
	eps := make([]string, 0, len(s.Endpoints))
	for _, e := range s.Endpoints {
		ready := "not-ready"
		if e.Conditions.Ready == nil || *e.Conditions.Ready {
			ready = "ready" // unset means ready (discovery/v1)
		}
		eps = append(eps, strings.Join(e.Addresses, ",")+" "+ready)
	}
	return fmt.Sprintf("%s; ports %s; endpoints %s", s.AddressType, orNone(ports), orNone(eps))
}

// endpointsSummary is one "ready …; not-ready …; ports …" group per subset.
func endpointsSummary(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "no subsets"
	}
	groups := make([]string, 0, len(ep.Subsets))
	for _, sub := range ep.Subsets {
		ports := make([]string, 0, len(sub.Ports))
		for _, p := range sub.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
		}
		groups = append(groups, fmt.Sprintf("ready %s; not-ready %s; ports %s",
			orNone(addresses(sub.Addresses)), orNone(addresses(sub.NotReadyAddresses)), orNone(ports)))
	}
	return strings.Join(groups, " | ")
}

func addresses(list []corev1.EndpointAddress) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.IP
	}
	return out
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "<none>"
	}
	return strings.Join(items, ", ")
}

// compactJSON puts a JSON document on one line; anything else is shown as is.
func compactJSON(raw string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return raw
	}
	return b.String()
}
