package state

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/ports"
)

// NodePort is one remembered mux port (nodeports.json, SPEC §10): the NodePort the
// API server last gave the port named Name. Port and Protocol are recorded for the
// reader; the port is matched by Name, as the API server matches NodePorts.
type NodePort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
	NodePort int32
}

// NodePorts is the content of nodeports.json: at most one entry per name, sorted by name.
type NodePorts []NodePort

// Get returns the entry named name.
func (m NodePorts) Get(name string) (NodePort, bool) {
	i := sort.Search(len(m), func(i int) bool { return m[i].Name >= name })
	if i < len(m) && m[i].Name == name {
		return m[i], true
	}
	return NodePort{}, false
}

// Equal compares content; both sides are sorted (DecodeNodePorts and the planner
// build them so).
func (m NodePorts) Equal(o NodePorts) bool {
	if len(m) != len(o) {
		return false
	}
	for i := range m {
		if m[i] != o[i] {
			return false
		}
	}
	return true
}

// DecodeNodePorts parses nodeports.json. An empty value or JSON null is no memory.
// Entries are sorted by name; a repeated name keeps the last one. Unknown fields are
// ignored. Any entry without a name or with a NodePort outside 1-65535 makes the
// whole value an error: the caller ignores it (and says so) rather than trust part
// of it, and rewrites it from the live mux.
func DecodeNodePorts(raw string) (NodePorts, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if m, ok := decodeNodePortsFast(raw); ok {
		return m, nil
	}
	return decodeNodePortsChecked(raw)
}

// fastNodePort is one entry decoded into a struct: several times cheaper than the
// map of raw values the checked path builds per entry, which matters for a mux of
// thousands of ports. encoding/json matches these keys case-insensitively; for
// a document only the agent writes that tolerance is harmless.
type fastNodePort struct {
	Name     *string         `json:"name"`
	NodePort json.RawMessage `json:"nodePort"`
	Port     json.RawMessage `json:"port"`
	Protocol *string         `json:"protocol"`
}

// decodeNodePortsFast decodes a well-formed document; false sends anything it
// cannot vouch for to the checked path, which names the problem.
func decodeNodePortsFast(raw string) (NodePorts, bool) {
	var doc struct {
		NodePorts []fastNodePort `json:"nodePorts"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, false
	}
	out := make(NodePorts, 0, len(doc.NodePorts))
	for _, e := range doc.NodePorts {
		if e.Name == nil || *e.Name == "" || isNull(e.NodePort) {
			return nil, false
		}
		np := NodePort{Name: *e.Name}
		if e.Protocol != nil {
			np.Protocol = corev1.Protocol(*e.Protocol)
		}
		var err error
		if np.NodePort, err = portValue(e.NodePort, "nodePort"); err != nil {
			return nil, false
		}
		if !isNull(e.Port) {
			if np.Port, err = portValue(e.Port, "port"); err != nil {
				return nil, false
			}
		}
		out = append(out, np)
	}
	return normalizeNodePorts(out), true
}

// decodeNodePortsChecked reads the document value by value, so an error says
// which entry and field is wrong.
func decodeNodePortsChecked(raw string) (NodePorts, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil {
		if json.Valid([]byte(raw)) {
			return nil, fmt.Errorf("not a JSON object")
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	list := top["nodePorts"]
	if isNull(list) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil {
		return nil, fmt.Errorf("nodePorts is not a list")
	}
	out := make(NodePorts, 0, len(items))
	for i, item := range items {
		np, err := decodeNodePort(item)
		if err != nil {
			return nil, fmt.Errorf("nodePorts[%d]: %w", i, err)
		}
		out = append(out, np)
	}
	return normalizeNodePorts(out), nil
}

func decodeNodePort(raw json.RawMessage) (NodePort, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return NodePort{}, fmt.Errorf("not an object")
	}
	var np NodePort
	var err error
	if np.Name, err = stringField(fields, "", "name"); err != nil {
		return NodePort{}, err
	}
	if np.Name == "" {
		return NodePort{}, fmt.Errorf("missing name")
	}
	protocol, err := stringField(fields, "", "protocol")
	if err != nil {
		return NodePort{}, err
	}
	np.Protocol = ports.NormalProtocol(corev1.Protocol(protocol))
	if isNull(fields["nodePort"]) {
		return NodePort{}, fmt.Errorf("missing nodePort")
	}
	if np.NodePort, err = portValue(fields["nodePort"], "nodePort"); err != nil {
		return NodePort{}, err
	}
	if !isNull(fields["port"]) {
		if np.Port, err = portValue(fields["port"], "port"); err != nil {
			return NodePort{}, err
		}
	}
	return np, nil
}

type nodePortsEntry struct {
	raw string
	m   NodePorts
	err error
}

// DecodeNodePorts is DecodeNodePorts(raw), remembered under key (the ConfigMap's
// namespace/name) like Decode: a steady pass compares a string instead of decoding
// thousands of entries. The returned memory is shared and must not be modified.
func (c *Cache) DecodeNodePorts(key, raw string) (NodePorts, error) {
	c.mu.Lock()
	e, ok := c.nodePorts[key]
	c.mu.Unlock()
	if ok && e.raw == raw {
		return e.m, e.err
	}
	m, err := DecodeNodePorts(raw)
	c.mu.Lock()
	c.nodePorts[key] = nodePortsEntry{raw: raw, m: m, err: err}
	c.mu.Unlock()
	return m, err
}

// normalizeNodePorts sorts by name, keeping the last entry of each name, and
// applies the TCP default. It returns nil for no entries, so memories compare.
func normalizeNodePorts(in NodePorts) NodePorts {
	if len(in) == 0 {
		return nil
	}
	all := make(NodePorts, len(in))
	copy(all, in)
	for i := range all {
		all[i].Protocol = ports.NormalProtocol(all[i].Protocol)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	out := all[:0]
	for i := range all {
		if i+1 < len(all) && all[i+1].Name == all[i].Name {
			continue // a later entry with the same name replaces this one
		}
		out = append(out, all[i])
	}
	return out
}

// EncodeNodePorts writes m the way allocations.json is written: sorted keys,
// two-space indent, ASCII only, no trailing newline. Entries are sorted by name;
// port is left out when unknown (0).
//
//	{
//	  "nodePorts": [
//	    {
//	      "name": "1a2b3c4",
//	      "nodePort": 31234,
//	      "port": 20000,
//	      "protocol": "TCP"
//	    }
//	  ],
//	  "schemaVersion": 1
//	}
func EncodeNodePorts(m NodePorts) string {
	m = normalizeNodePorts(m)
	var b strings.Builder
	b.WriteString("{\n  \"nodePorts\": ")
	if len(m) == 0 {
		b.WriteString("[]")
	} else {
		b.WriteString("[\n")
		for i, np := range m {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString("    {\n")
			writeString(&b, "name", np.Name)
			writeInt(&b, "nodePort", np.NodePort)
			if np.Port != 0 {
				writeInt(&b, "port", np.Port)
			}
			b.WriteString("      \"protocol\": ")
			writePyString(&b, string(np.Protocol))
			b.WriteString("\n    }")
		}
		b.WriteString("\n  ]")
	}
	b.WriteString(",\n  \"schemaVersion\": 1\n}")
	return b.String()
}
