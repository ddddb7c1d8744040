package world

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StateKey is the state ConfigMap's data key holding the document (SPEC §4).
const StateKey = "allocations.json"

// StateName is the default state ConfigMap name of a mux (SPEC §4):
// "<mux>-port-allocations", or, when that exceeds 63 characters, the first 54
// characters of the mux name, "-" and 8 hex of SHA-256(mux name). A mux's
// <prefix>/allocation-configmap annotation overrides it.
func StateName(mux string) string {
	name := mux + "-port-allocations"
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(mux))
	return mux[:min(54, len(mux))] + "-" + hex.EncodeToString(sum[:])[:8]
}

// Claim is one claim of the state document.
type Claim struct {
	ChannelPort int32  `json:"channelPort,omitempty"`
	MuxPort     int32  `json:"muxPort,omitempty"`
	Namespace   string `json:"namespace"`
	Port        int32  `json:"port"`
	PortName    string `json:"portName"`
	Protocol    string `json:"protocol"`
	Service     string `json:"service"`
	Source      string `json:"source"`
}

// StateDoc is the allocations.json document.
type StateDoc struct {
	Allocations []Claim `json:"allocations"`
	Mux         struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"mux"`
	PortClaims    []Claim `json:"portClaims"`
	SchemaVersion int     `json:"schemaVersion"`
}

// DecodeState decodes a state ConfigMap's document (a missing or empty key is
// the empty document, as the agent reads it).
func DecodeState(cm *corev1.ConfigMap) (StateDoc, error) {
	var doc StateDoc
	if cm == nil {
		return doc, fmt.Errorf("no state ConfigMap")
	}
	raw := strings.TrimSpace(cm.Data[StateKey])
	if raw == "" {
		return doc, nil
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return doc, fmt.Errorf("decode %s of %s/%s: %w", StateKey, cm.Namespace, cm.Name, err)
	}
	return doc, nil
}

// StateE reads the state ConfigMap of mux (by its default name) from the
// World's namespace; nil, nil when it does not exist.
func (w *World) StateE(mux string) (*corev1.ConfigMap, error) {
	return w.ConfigMapE(StateName(mux))
}

// State is StateE, failing the test on error.
func (w *World) State(mux string) *corev1.ConfigMap {
	cm, err := w.StateE(mux)
	w.must(err)
	return cm
}

// ConfigMapE reads a ConfigMap of the World's namespace; nil, nil when absent.
func (w *World) ConfigMapE(name string) (*corev1.ConfigMap, error) {
	cm, err := w.Client.CoreV1().ConfigMaps(w.Namespace).Get(w.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %s: %w", w.Ref(name), err)
	}
	return cm, nil
}

// ConfigMap is ConfigMapE, failing the test on error.
func (w *World) ConfigMap(name string) *corev1.ConfigMap {
	cm, err := w.ConfigMapE(name)
	w.must(err)
	return cm
}

// ClaimsE is the portClaims of mux's state document.
func (w *World) ClaimsE(mux string) ([]Claim, error) {
	cm, err := w.StateE(mux)
	if err != nil {
		return nil, err
	}
	doc, err := DecodeState(cm)
	return doc.PortClaims, err
}

// Claims is ClaimsE, failing the test on error.
func (w *World) Claims(mux string) []Claim {
	c, err := w.ClaimsE(mux)
	w.must(err)
	return c
}

// WaitStateE waits until the state ConfigMap of mux exists and ok holds for
// it, and returns it.
func (w *World) WaitStateE(mux string, ok func(*corev1.ConfigMap) bool) (*corev1.ConfigMap, error) {
	var got *corev1.ConfigMap
	err := w.Poll(0, func() (bool, string, error) {
		cm, err := w.StateE(mux)
		if err != nil || cm == nil {
			return false, "state ConfigMap " + StateName(mux) + " absent", err
		}
		got = cm
		return ok(cm), StateKey + ":\n" + cm.Data[StateKey], nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for state of mux %s: %w", w.Ref(mux), err)
	}
	return got, nil
}

// WaitState is WaitStateE, failing the test on error.
func (w *World) WaitState(mux string, ok func(*corev1.ConfigMap) bool) *corev1.ConfigMap {
	cm, err := w.WaitStateE(mux, ok)
	w.must(err)
	return cm
}
