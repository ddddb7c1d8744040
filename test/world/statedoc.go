package world

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// StateClaim is one claim a test expects in a state document (SPEC §4), in
// the World's namespace.
type StateClaim struct {
	Service, PortName string
	Protocol          corev1.Protocol
	ChannelPort       int32
	MuxPort           int32
	Auto              bool // source "auto" (also listed under allocations), else "static"
}

// StateDocument is, byte for byte, the allocations.json the contract asks the
// agent to write for mux with claims: claims sorted by protocol, namespace,
// service and port name; sorted keys, two-space indent, no trailing newline
// (Python's json.dumps(indent=2, sort_keys=True), which encoding/json matches
// for ASCII content).
func (w *World) StateDocument(mux string, claims ...StateClaim) string {
	claims = append([]StateClaim(nil), claims...)
	key := func(c StateClaim) string {
		return strings.Join([]string{string(c.Protocol), w.Namespace, c.Service, c.PortName}, ":")
	}
	sort.Slice(claims, func(i, j int) bool { return key(claims[i]) < key(claims[j]) })
	all, auto := []any{}, []any{}
	for _, c := range claims {
		source := "static"
		if c.Auto {
			source = "auto"
		}
		m := map[string]any{"channelPort": c.ChannelPort, "muxPort": c.MuxPort, "namespace": w.Namespace,
			"port": c.MuxPort, "portName": c.PortName, "protocol": string(c.Protocol), "service": c.Service, "source": source}
		all = append(all, m)
		if c.Auto {
			auto = append(auto, m)
		}
	}
	return EncodeState(map[string]any{
		"allocations": auto, "mux": map[string]string{"name": mux, "namespace": w.Namespace},
		"portClaims": all, "schemaVersion": 1,
	})
}

// EncodeState serialises a state document as SPEC §4 (and the Python
// controller) writes it: sorted keys, two-space indent, no trailing newline.
func EncodeState(doc map[string]any) string {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("world: encode state document: %v", err)) // only maps of plain values reach here
	}
	return string(b)
}

// StaticClaim is the decoded claim of a default or explicit port of the
// World's channel svc (as Claims returns it).
func (w *World) StaticClaim(svc, portName string, channelPort, muxPort int32) Claim {
	return Claim{ChannelPort: channelPort, MuxPort: muxPort, Namespace: w.Namespace, Port: muxPort,
		PortName: portName, Protocol: "TCP", Service: svc, Source: "static"}
}

// WaitStateDocE waits until the state ConfigMap of mux holds exactly want
// (see StateDocument) and returns it.
func (w *World) WaitStateDocE(mux, want string) (*corev1.ConfigMap, error) {
	cm, err := w.WaitStateE(mux, func(cm *corev1.ConfigMap) bool { return cm.Data[StateKey] == want })
	if err != nil {
		return nil, fmt.Errorf("%w\nwant:\n%s", err, want)
	}
	return cm, nil
}

// WaitStateDoc is WaitStateDocE, failing the test on error.
func (w *World) WaitStateDoc(mux, want string) *corev1.ConfigMap {
	cm, err := w.WaitStateDocE(mux, want)
	w.must(err)
	return cm
}

// WaitClaimsE waits until the portClaims of the state ConfigMap name are
// exactly want (an empty list for none).
func (w *World) WaitClaimsE(name string, want []Claim) error {
	err := w.Poll(0, func() (bool, string, error) {
		cm, err := w.ConfigMapE(name)
		if err != nil {
			return false, "", err
		}
		doc, err := DecodeState(cm)
		if err != nil {
			return false, "", err
		}
		got := doc.PortClaims
		if got == nil {
			got = []Claim{}
		}
		return reflect.DeepEqual(got, want), fmt.Sprintf("portClaims %+v, want %+v", got, want), nil
	})
	if err != nil {
		return fmt.Errorf("wait for the claims of %s: %w", w.Ref(name), err)
	}
	return nil
}

// WaitClaims is WaitClaimsE, failing the test on error.
func (w *World) WaitClaims(name string, want []Claim) { w.must(w.WaitClaimsE(name, want)) }

// UpdateConfigMapE applies mutate to the live ConfigMap name and writes it
// back (retrying conflicts) as manager.
func (w *World) UpdateConfigMapE(name, manager string, mutate func(*corev1.ConfigMap)) (*corev1.ConfigMap, error) {
	cms := w.Client.CoreV1().ConfigMaps(w.Namespace)
	var out *corev1.ConfigMap
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(w.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(cm)
		out, err = cms.Update(w.ctx, cm, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update configmap %s as %q: %w", w.Ref(name), manager, err)
	}
	return out, nil
}

// UpdateConfigMap is UpdateConfigMapE, failing the test on error.
func (w *World) UpdateConfigMap(name, manager string, mutate func(*corev1.ConfigMap)) *corev1.ConfigMap {
	out, err := w.UpdateConfigMapE(name, manager, mutate)
	w.must(err)
	return out
}

// DeleteConfigMapE deletes a ConfigMap of the World's namespace.
func (w *World) DeleteConfigMapE(name string) error {
	if err := w.Client.CoreV1().ConfigMaps(w.Namespace).Delete(w.ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete configmap %s: %w", w.Ref(name), err)
	}
	return nil
}

// DeleteConfigMap is DeleteConfigMapE, failing the test on error.
func (w *World) DeleteConfigMap(name string) { w.must(w.DeleteConfigMapE(name)) }
