package drift

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nowakeai/svcmux/pkg/api"
	"github.com/nowakeai/svcmux/pkg/plan"
)

// The mux port names of the fixture's channels (SHA-256 of ns/service/port).
const (
	apiPort = "bcaefde" // app/api/http
	webPort = "ec6d34e" // app/web/https
)

// describe is one drift on one line, as a test row states it.
func describe(d Drift) string {
	w := d.Writer
	by := w.Kind
	if w.Manager != "" {
		op := w.Operation
		if w.Subresource != "" {
			op += "/" + w.Subresource
		}
		by += fmt.Sprintf(" %s %s at %s", w.Manager, op, w.Time.Format("15:04"))
	}
	return fmt.Sprintf("%s %s by %s; desired %q; live %q", d.Object, d.Field, by, d.Desired, d.Live)
}

func describeAll(ds []Drift) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, describe(d))
	}
	return out
}

// agentMuxFields is what svcmux owns on the converged mux, without skip.
func agentMuxFields(p plan.Plan, withPorts bool, skip ...string) string {
	var ks []string
	for k := range p.Annotations {
		if !contains(skip, k) {
			ks = append(ks, k)
		}
	}
	if !withPorts {
		return annotationFields(ks...)
	}
	return mergeFields(annotationFields(ks...), portsFields(p.Ports...))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestConvergedMuxHasNoDrift(t *testing.T) {
	s := converged()
	before := s.Mux.DeepCopy()
	assert.Empty(t, describeAll(Mux(plan.Compute(s, testOpts), s)))
	assert.True(t, equality.Semantic.DeepEqual(before, s.Mux), "the snapshot was mutated")
}

func TestMuxDrift(t *testing.T) {
	p0 := plan.Compute(converged(), testOpts)
	summary := p0.Annotations[keys.Summary]
	for _, tc := range []struct {
		name   string
		mutate func(s *plan.Snapshot)
		opts   func(o *plan.Options)
		want   []string
	}{
		{
			name: "GitOps writing the placeholder back on spec.ports is named by argocd-controller",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP, NodePort: 30200}}
				s.Mux.ManagedFields = []metav1.ManagedFieldsEntry{
					entry("kubectl-create", update, "", at(0), annotationFields(keys.Multiplexer, keys.PortRange)),
					entry(api.FieldManager, update, "", at(1), agentMuxFields(p0, false)),
					entry("argocd-controller", update, "", at(2), portsFields(s.Mux.Spec.Ports...)),
				}
			},
			want: []string{`service/svc-mux/mux spec.ports by gitops argocd-controller Update at 10:02; desired "` +
				apiPort + `:8080/TCP, ` + webPort + `:20000/TCP"; live "placeholder:101/TCP"`},
		},
		{
			name: "the same ports in another order with the API server's nodePorts are no drift",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Spec.Ports[0], s.Mux.Spec.Ports[1] = s.Mux.Spec.Ports[1], s.Mux.Spec.Ports[0]
				s.Mux.Spec.Ports[0].NodePort = 32500
			},
		},
		{
			name: "a kubectl edit of a channel's ports annotation is named by kubectl-client-side-apply",
			mutate: func(s *plan.Snapshot) {
				ch := channelOf(*s, "api")
				ch.Annotations[keys.Ports] = "http:8080->20005"
				ch.ManagedFields = []metav1.ManagedFieldsEntry{ch.ManagedFields[0], ch.ManagedFields[2],
					entry("kubectl-client-side-apply", update, "", at(3), annotationFields(keys.Ports))}
			},
			want: []string{`service/app/api metadata.annotations[svc-mux.nowake.ai/ports] by kubectl kubectl-client-side-apply Update at 10:03; ` +
				`desired "http:8080->8080"; live "http:8080->20005"`},
		},
		{
			name: "a summary removed by hand is live <absent> and owned by no one",
			mutate: func(s *plan.Snapshot) {
				delete(s.Mux.Annotations, keys.Summary)
				s.Mux.ManagedFields[1] = entry(api.FieldManager, update, "", at(1), agentMuxFields(p0, true, keys.Summary))
			},
			want: []string{`service/svc-mux/mux metadata.annotations[svc-mux.nowake.ai/summary] by unknown; desired "` + summary + `"; live "<absent>"`},
		},
		{
			name: "the previous controller's summary is named the previous controller",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Annotations[keys.Summary] = "2 channel(s) | 2 port(s) | 0 pod(s) | DNS: pending"
				s.Mux.ManagedFields[1] = entry(api.FieldManager, update, "", at(1), agentMuxFields(p0, true, keys.Summary))
				s.Mux.ManagedFields = append(s.Mux.ManagedFields, entry("kopf", update, "", at(2), annotationFields(keys.Summary)))
			},
			want: []string{`service/svc-mux/mux metadata.annotations[svc-mux.nowake.ai/summary] by previous-controller kopf Update at 10:02; ` +
				`desired "` + summary + `"; live "2 channel(s) | 2 port(s) | 0 pod(s) | DNS: pending"`},
		},
		{
			name: "an aggregated external-dns hostname rewritten by kubectl annotate is a drift",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Annotations[api.ExternalDNSHostname] = "other.example.com"
				s.Mux.ManagedFields[1] = entry(api.FieldManager, update, "", at(1), agentMuxFields(p0, true, api.ExternalDNSHostname))
				s.Mux.ManagedFields = append(s.Mux.ManagedFields, entry("kubectl-annotate", update, "", at(4), annotationFields(api.ExternalDNSHostname)))
			},
			want: []string{`service/svc-mux/mux metadata.annotations[external-dns.alpha.kubernetes.io/hostname] by kubectl kubectl-annotate Update at 10:04; ` +
				`desired "web.example.com"; live "other.example.com"`},
		},
		{
			name: "an external-dns key the agent does not list as its own is the user's: no drift",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Annotations[api.ExternalDNSHostname] = "user.example.com"
				delete(s.Mux.Annotations, keys.AggregatedExternalDNS)
			},
		},
		{
			name: "a condition changed on the status subresource names that manager and subresource",
			mutate: func(s *plan.Snapshot) {
				ch := channelOf(*s, "api")
				ch.Status.Conditions[0].Reason, ch.Status.Conditions[0].Message = "Edited", "by hand"
				ch.ManagedFields[2] = entry(api.FieldManager, update, "status", at(1), `{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}`)
				ch.ManagedFields = append(ch.ManagedFields, entry("kubectl-edit", update, "status", at(2),
					`{"f:status":{"f:conditions":{"k:{\"type\":\"svc-mux.nowake.ai/Accepted\"}":{"f:message":{},"f:reason":{}}}}}`))
			},
			want: []string{`service/app/api status.conditions[type=svc-mux.nowake.ai/Accepted] by kubectl kubectl-edit Update/status at 10:02; ` +
				`desired "True Accepted (generation 1): channel app/api is served by mux svc-mux/mux: http:8080->8080"; ` +
				`live "True Edited (generation 1): by hand"`},
		},
		{
			name: "a condition with only another lastTransitionTime is no drift",
			mutate: func(s *plan.Snapshot) {
				channelOf(*s, "web").Status.Conditions[0].LastTransitionTime = at(30)
			},
		},
		{
			name:   "a spec edit the agent has not seen yet is a drift the agent wrote: observedGeneration is behind",
			mutate: func(s *plan.Snapshot) { channelOf(*s, "web").Generation = 2 },
			want: []string{`service/app/web status.conditions[type=svc-mux.nowake.ai/Accepted] by agent svcmux Update/status at 10:01; ` +
				`desired "True Accepted (generation 2): channel app/web is served by mux svc-mux/mux: https:443->20000"; ` +
				`live "True Accepted (generation 1): channel app/web is served by mux svc-mux/mux: https:443->20000"`},
		},
		{
			name: "an ingress rewritten by a cloud controller names it",
			mutate: func(s *plan.Snapshot) {
				ch := channelOf(*s, "web")
				ch.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}}
				ch.ManagedFields = append(ch.ManagedFields, entry("cloud-controller-manager", update, "status", at(5),
					`{"f:status":{"f:loadBalancer":{"f:ingress":{}}}}`))
			},
			want: []string{`service/app/web status.loadBalancer by other cloud-controller-manager Update/status at 10:05; desired "203.0.113.10"; live "198.51.100.7"`},
		},
		{
			name:   "deleted mux slices are missing, with no writer",
			mutate: func(s *plan.Snapshot) { s.MuxSlices = nil },
			want: []string{
				`endpointslice/svc-mux/mux-1aaed24e-0 (missing) by unknown; desired "IPv4; ports ` + apiPort + `:8080/TCP; endpoints 10.0.0.1 ready"; live "<absent>"`,
				`endpointslice/svc-mux/mux-d31fa372-0 (missing) by unknown; desired "IPv4; ports ` + webPort + `:443/TCP; endpoints 10.0.0.2 ready"; live "<absent>"`,
			},
		},
		{
			name: "a mux slice whose endpoints were rewritten names the writer of its endpoints",
			mutate: func(s *plan.Snapshot) {
				sl := s.MuxSlices[0]
				sl.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"10.9.9.9"}}}
				sl.ManagedFields = []metav1.ManagedFieldsEntry{
					entry(api.FieldManager, update, "", at(1), `{"f:addressType":{},"f:ports":{}}`),
					entry("kubectl-edit", update, "", at(2), `{"f:endpoints":{}}`),
				}
			},
			want: []string{`endpointslice/svc-mux/mux-1aaed24e-0 (different) by kubectl kubectl-edit Update at 10:02; ` +
				`desired "IPv4; ports ` + apiPort + `:8080/TCP; endpoints 10.0.0.1 ready"; live "IPv4; ports ` + apiPort + `:8080/TCP; endpoints 10.9.9.9 ready"`},
		},
		{
			name: "a mux slice that lost a label reads the same and says its metadata differs",
			mutate: func(s *plan.Snapshot) {
				delete(s.MuxSlices[1].Labels, api.LabelManagedBy)
			},
			want: []string{`endpointslice/svc-mux/mux-d31fa372-0 (different) by agent svcmux Update at 10:01; ` +
				`desired "IPv4; ports ` + webPort + `:443/TCP; endpoints 10.0.0.2 ready"; ` +
				`live "IPv4; ports ` + webPort + `:443/TCP; endpoints 10.0.0.2 ready (labels, annotations or owner references differ)"`},
		},
		{
			name: "an extra slice of the agent's is named by its writer; another controller's slice is not compared",
			mutate: func(s *plan.Snapshot) {
				stale := s.MuxSlices[0].DeepCopy()
				stale.Name = "mux-stale"
				foreign := s.MuxSlices[0].DeepCopy()
				foreign.Name, foreign.Labels = "mux-mirrored", map[string]string{api.LabelSliceManagedBy: "endpointslicemirroring-controller.k8s.io"}
				s.MuxSlices = append(s.MuxSlices, stale, foreign)
			},
			want: []string{`endpointslice/svc-mux/mux-stale (extra) by agent svcmux Update at 10:01; desired "<absent>"; ` +
				`live "IPv4; ports ` + apiPort + `:8080/TCP; endpoints 10.0.0.1 ready"`},
		},
		{
			name: "the previous controller's Endpoints, deleted on takeover, is extra and named kr8s",
			mutate: func(s *plan.Snapshot) {
				s.MuxEndpoints = &corev1.Endpoints{
					ObjectMeta: metav1.ObjectMeta{Namespace: "svc-mux", Name: "mux",
						Labels:        map[string]string{api.LabelManagedBy: api.AppName, api.LabelComponent: api.ComponentMuxEndpoints},
						ManagedFields: []metav1.ManagedFieldsEntry{entry("kr8s", update, "", at(0), `{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/component":{},"f:app.kubernetes.io/managed-by":{}}},"f:subsets":{}}`)}},
					Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}},
						Ports: []corev1.EndpointPort{{Name: "old", Port: 8080, Protocol: corev1.ProtocolTCP}}}},
				}
			},
			want: []string{`endpoints/svc-mux/mux (extra) by previous-controller kr8s Update at 10:00; desired "<absent>"; ` +
				`live "ready 10.0.0.1; not-ready <none>; ports old:8080/TCP"`},
		},
		{
			name: "in endpoints mode the Endpoints object is missing and the agent's slices are extra",
			opts: func(o *plan.Options) { o.EndpointsMode = plan.EndpointsModeEndpoints },
			want: []string{
				`endpointslice/svc-mux/mux-1aaed24e-0 (extra) by agent svcmux Update at 10:01; desired "<absent>"; live "IPv4; ports ` + apiPort + `:8080/TCP; endpoints 10.0.0.1 ready"`,
				`endpointslice/svc-mux/mux-d31fa372-0 (extra) by agent svcmux Update at 10:01; desired "<absent>"; live "IPv4; ports ` + webPort + `:443/TCP; endpoints 10.0.0.2 ready"`,
				`endpoints/svc-mux/mux (missing) by unknown; desired "ready 10.0.0.1; not-ready <none>; ports ` + apiPort + `:8080/TCP | ready 10.0.0.2; not-ready <none>; ports ` + webPort + `:443/TCP"; live "<absent>"`,
			},
		},
		{
			name: "in both modes an Endpoints object with other subsets names the writer of its subsets",
			opts: func(o *plan.Options) { o.EndpointsMode = plan.EndpointsModeBoth },
			mutate: func(s *plan.Snapshot) {
				want := plan.Compute(*s, plan.Options{Keys: keys, DefaultMuxNamespace: "svc-mux", EndpointsMode: plan.EndpointsModeBoth, Now: at(0)}).Endpoints
				live := want.DeepCopy()
				live.Subsets = live.Subsets[:1]
				live.ManagedFields = []metav1.ManagedFieldsEntry{
					entry(api.FieldManager, update, "", at(1), `{"f:metadata":{"f:labels":{".":{}}}}`),
					entry("helm-controller", apply, "", at(6), `{"f:subsets":{}}`),
				}
				s.MuxEndpoints = live
			},
			want: []string{`endpoints/svc-mux/mux (different) by gitops helm-controller Apply at 10:06; ` +
				`desired "ready 10.0.0.1; not-ready <none>; ports ` + apiPort + `:8080/TCP | ready 10.0.0.2; not-ready <none>; ports ` + webPort + `:443/TCP"; ` +
				`live "ready 10.0.0.1; not-ready <none>; ports ` + apiPort + `:8080/TCP"`},
		},
		{
			name: "a claim removed from the state by hand names that writer",
			mutate: func(s *plan.Snapshot) {
				s.StateConfigMap.Data[api.StateKey] = `{"mux":{"name":"mux","namespace":"svc-mux"},"portClaims":[` +
					`{"channelPort":8080,"muxPort":8080,"namespace":"app","port":8080,"portName":"http","protocol":"TCP","service":"api","source":"static"}],"schemaVersion":1}`
				s.StateConfigMap.ManagedFields = append(s.StateConfigMap.ManagedFields[:0:0],
					entry(api.FieldManager, update, "", at(1), `{"f:data":{".":{}}}`),
					entry("kubectl-edit", update, "", at(7), `{"f:data":{"f:allocations.json":{}}}`))
			},
			want: []string{`configmap/svc-mux/mux-port-allocations data[allocations.json] by kubectl kubectl-edit Update at 10:07; ` +
				`desired "` + strings.ReplaceAll(compactJSON(p0.State.Document.Encode()), `"`, `\"`) + `"; ` +
				`live "{\"mux\":{\"name\":\"mux\",\"namespace\":\"svc-mux\"},\"portClaims\":[{\"channelPort\":8080,\"muxPort\":8080,\"namespace\":\"app\",\"port\":8080,\"portName\":\"http\",\"protocol\":\"TCP\",\"service\":\"api\",\"source\":\"static\"}],\"schemaVersion\":1}"`},
		},
		{
			name: "the same claims serialised another way are no drift (compared semantically)",
			mutate: func(s *plan.Snapshot) {
				var doc map[string]any
				require.NoError(t, json.Unmarshal([]byte(s.StateConfigMap.Data[api.StateKey]), &doc))
				b, _ := json.Marshal(doc)
				s.StateConfigMap.Data[api.StateKey] = string(b)
			},
		},
		{
			name:   "a deleted state ConfigMap is missing",
			mutate: func(s *plan.Snapshot) { s.StateConfigMap = nil },
			want: []string{`configmap/svc-mux/mux-port-allocations (missing) by unknown; desired "` +
				strings.ReplaceAll(compactJSON(p0.State.Document.Encode()), `"`, `\"`) + `"; live "<absent>"`},
		},
		{
			name: "an unreadable state is never written by the agent: no drift for it",
			mutate: func(s *plan.Snapshot) {
				s.StateConfigMap.Data[api.StateKey] = "{not json"
			},
		},
		{
			name: "a frozen mux (invalid max-ports) reports nothing, however far its live values are",
			mutate: func(s *plan.Snapshot) {
				s.Mux.Annotations[keys.MaxPorts] = "many"
				s.Mux.Spec.Ports = []corev1.ServicePort{{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}}
				delete(s.Mux.Annotations, keys.Summary)
				s.MuxSlices = nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := converged()
			if tc.mutate != nil {
				tc.mutate(&s)
			}
			opts := testOpts
			if tc.opts != nil {
				tc.opts(&opts)
			}
			p := plan.Compute(s, opts)
			want := tc.want
			if want == nil {
				want = []string{}
			}
			assert.Equal(t, want, describeAll(Mux(p, s)))
		})
	}
}

func TestChannelOfADetachedServiceWithLeftovers(t *testing.T) {
	s := converged()
	svc := channelOf(s, "api").DeepCopy()
	svc.Spec.LoadBalancerClass = nil // no longer a channel: svcmux's annotation, ingress and condition go
	o, _ := plan.Unattached(svc, testOpts, false)
	assert.Equal(t, []string{
		`service/app/api metadata.annotations[svc-mux.nowake.ai/ports] by agent svcmux Update at 10:01; desired "<absent>"; live "http:8080->8080"`,
		`service/app/api status.loadBalancer by agent svcmux Update/status at 10:01; desired "<none>"; live "203.0.113.10"`,
		`service/app/api status.conditions[type=svc-mux.nowake.ai/Accepted] by agent svcmux Update/status at 10:01; desired "<absent>"; ` +
			`live "True Accepted (generation 1): channel app/api is served by mux svc-mux/mux: http:8080->8080"`,
	}, describeAll(Channel(o, svc, keys)))
}
