package world

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// PortName is the mux port name of a channel port (SPEC §2): the first 7 hex
// characters of SHA-256 of "namespace/service/portName". Written here from the
// contract, once for every real-cluster test, and pinned by hash_test.go: the
// product's own implementation is what these tests check.
func PortName(namespace, service, port string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + service + "/" + port))
	return hex.EncodeToString(sum[:])[:7]
}

// Port is one mux spec.ports entry as the contract states it (no targetPort
// or nodePort: the agent writes only these three fields).
type Port struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}

func (p Port) String() string { return fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol) }

// MuxPort is the mux port expected for port portName of the World's channel
// service, published as number (TCP unless proto says otherwise).
func (w *World) MuxPort(service, portName string, number int32, proto ...corev1.Protocol) Port {
	p := corev1.ProtocolTCP
	if len(proto) > 0 {
		p = proto[0]
	}
	return Port{Name: PortName(w.Namespace, service, portName), Port: number, Protocol: p}
}

// Placeholder is the port of a mux with no accepted port (SPEC §2).
var Placeholder = Port{Name: "placeholder", Port: 101, Protocol: corev1.ProtocolTCP}

// PortsOf is a Service's spec.ports as Ports, in spec order.
func PortsOf(svc *corev1.Service) []Port {
	out := make([]Port, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out = append(out, Port{p.Name, p.Port, p.Protocol})
	}
	return out
}

// NodePorts maps a Service's port names to the NodePorts the API server gave.
func NodePorts(svc *corev1.Service) map[string]int32 {
	out := make(map[string]int32, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		out[p.Name] = p.NodePort
	}
	return out
}
