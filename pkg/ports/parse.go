// Package ports holds the port-level vocabulary of svcmux: the parsers for the
// external-ports, port-range and ports annotations, the mux port name, and the
// Ledger that records who holds each (port, protocol) on a mux during one pass.
// It is pure: no client, no logging, no clock.
package ports

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Port numbers a Service may use.
const (
	MinPort = 1
	MaxPort = 65535
)

// autoValue is the external-ports value that asks for allocation from the mux range.
const autoValue = "auto"

// Mapping is one external-ports value: either Auto, or an explicit Port.
type Mapping struct {
	Auto bool
	Port int32
}

// ParseExternalPorts parses the channel annotation "<name>:<port|auto>,..." (SPEC §2).
// Items are trimmed and empty ones skipped; each splits at its first ':'; "auto" is
// case-insensitive; a number is decimal digits in 1-65535; a name listed twice takes
// the last value. Every malformed item is named in one error, so a user fixes them all
// in one edit instead of one per reconcile. On error the map is nil.
func ParseExternalPorts(s string) (map[string]Mapping, error) {
	list, err := ParseExternalPortList(s)
	if err != nil {
		return nil, err
	}
	result := make(map[string]Mapping, len(list))
	for _, e := range list {
		result[e.Name] = e.Mapping
	}
	return result, nil
}

// ExternalPort is one port name of an external-ports value and its mapping.
type ExternalPort struct {
	Name string
	Mapping
}

// ParseExternalPortList is ParseExternalPorts as a list: each name once, in the order
// it is first listed, with its last value. A channel names a handful of ports, so
// the planner scans this list instead of building a map per channel per pass.
func ParseExternalPortList(s string) ([]ExternalPort, error) {
	return AppendExternalPortList(nil, s)
}

// AppendExternalPortList is ParseExternalPortList appending to dst (which must not
// name a port yet), so the planner parses into a buffer on its stack; on error it
// returns nil.
func AppendExternalPortList(dst []ExternalPort, s string) ([]ExternalPort, error) {
	result := dst
	var bad []string
	for more := true; more; {
		var item string
		item, s, more = strings.Cut(s, ",")
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, found := strings.Cut(item, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !found || name == "" {
			bad = append(bad, item)
			continue
		}
		var m Mapping
		if strings.EqualFold(value, autoValue) {
			m = Mapping{Auto: true}
		} else if port, ok := parsePort(value); ok {
			m = Mapping{Port: port}
		} else {
			bad = append(bad, item)
			continue
		}
		result = setExternalPort(result, name, m)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: expected name:port (1-65535) or name:auto", invalidItems(bad))
	}
	return result, nil
}

// setExternalPort records name's mapping, replacing an earlier one for the same name.
func setExternalPort(list []ExternalPort, name string, m Mapping) []ExternalPort {
	for i := range list {
		if list[i].Name == name {
			list[i].Mapping = m
			return list
		}
	}
	return append(list, ExternalPort{Name: name, Mapping: m})
}

// ParsePortsAnnotation reads the agent's own channel annotation
// "http:8080->20000, grpc:9090->20001" into port name → mux port. It is lenient like
// the Python parse_port_mappings, because the value is evidence for recovering an owner
// (a GitOps tool may have written anything back): items without ':' or '->' are skipped,
// a later item for the same name replaces an earlier one, and a value that is not a
// port number 1-65535 leaves no entry for that name.
func ParsePortsAnnotation(s string) map[string]int32 {
	raw := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		name, rest, found := strings.Cut(item, ":")
		if !found {
			continue
		}
		_, mux, found := strings.Cut(rest, "->")
		if !found {
			continue
		}
		name = strings.TrimSpace(name)
		if name == "" {
			// No channel port has an empty name; such an entry can never match.
			continue
		}
		raw[name] = strings.TrimSpace(mux)
	}
	result := make(map[string]int32, len(raw))
	for name, value := range raw {
		if port, ok := parsePort(value); ok {
			result[name] = port
		}
	}
	return result
}

// PortsAnnotationPort is ParsePortsAnnotation(s)[name] without building the map: a
// pass reads the annotation of every channel while it recovers owners.
func PortsAnnotationPort(s, name string) (int32, bool) {
	if name == "" {
		return 0, false
	}
	var value string
	found := false
	for more := true; more; {
		var item string
		item, s, more = strings.Cut(s, ",")
		n, rest, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || strings.TrimSpace(n) != name {
			continue
		}
		if _, mux, ok := strings.Cut(rest, "->"); ok {
			value, found = strings.TrimSpace(mux), true // a later item replaces an earlier one
		}
	}
	if !found {
		return 0, false
	}
	return parsePort(value)
}

// PortMapping is one item of the channel ports annotation.
type PortMapping struct {
	Name        string
	ChannelPort int32
	MuxPort     int32
}

// FormatPortsAnnotation writes "http:8080->20000, grpc:9090->20001" in the given
// order (the channel's spec.ports order), byte-identical to the Python controller.
func FormatPortsAnnotation(m []PortMapping) string {
	var b strings.Builder
	b.Grow(PortsAnnotationSize(m)) // one allocation: the planner formats this for every channel
	WritePortsAnnotation(&b, m)
	return b.String()
}

// PortsAnnotationSize is an upper bound of len(FormatPortsAnnotation(m)).
func PortsAnnotationSize(m []PortMapping) int {
	size := 0
	for _, p := range m {
		size += len(p.Name) + len(":65535->65535, ")
	}
	return size
}

// WritePortsAnnotation writes FormatPortsAnnotation(m) to b, for a caller that
// builds it into a longer string.
func WritePortsAnnotation(b *strings.Builder, m []PortMapping) {
	var digits [12]byte
	for i, p := range m {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte(':')
		b.Write(strconv.AppendInt(digits[:0], int64(p.ChannelPort), 10))
		b.WriteString("->")
		b.Write(strconv.AppendInt(digits[:0], int64(p.MuxPort), 10))
	}
}

// MuxPortName is the mux spec.ports name of a channel port: the first 7 hex chars of
// SHA-256("namespace/service/portName"). It is the port's stable identity, the same the
// Python controller computes, so NodePorts survive a controller swap. The hash input
// is assembled on the stack: a plan computes this name for every channel port.
func MuxPortName(namespace, service, portName string) string {
	var name [MuxPortNameLen]byte
	return string(AppendMuxPortName(name[:0], namespace, service, portName))
}

// MuxPortNameLen is the length of every mux port name.
const MuxPortNameLen = 7

// AppendMuxPortName appends MuxPortName(namespace, service, portName) to dst, for a
// caller that builds several strings of a channel in one buffer.
func AppendMuxPortName(dst []byte, namespace, service, portName string) []byte {
	var buf [256]byte
	in := append(buf[:0], namespace...)
	in = append(in, '/')
	in = append(in, service...)
	in = append(in, '/')
	in = append(in, portName...)
	sum := sha256.Sum256(in)
	var name [8]byte
	hex.Encode(name[:], sum[:4])
	return append(dst, name[:MuxPortNameLen]...)
}

// parsePort accepts only ASCII decimal digits in 1-65535 (leading zeros allowed, as
// Python's int() allows them). strconv.Atoi alone would also take a sign ("+80"),
// which the contract does not allow; an overlong number fails Atoi and is rejected.
func parsePort(s string) (int32, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < MinPort || n > MaxPort {
		return 0, false
	}
	return int32(n), true
}

// invalidItems renders `invalid item "a"` or `invalid items "a", "b"`.
func invalidItems(items []string) string {
	quoted := make([]string, len(items))
	for i, item := range items {
		quoted[i] = strconv.Quote(item)
	}
	noun := "item"
	if len(items) > 1 {
		noun = "items"
	}
	return "invalid " + noun + " " + strings.Join(quoted, ", ")
}
