package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/ports"
)

// Document keys. Objects are decoded into maps of raw values, not structs, because
// encoding/json matches struct fields case-insensitively and "PortClaims" must not
// pass for "portClaims".
const (
	keyAllocations = "allocations"
	keyPortClaims  = "portClaims"
	keyMux         = "mux"
)

// Decode parses the allocations.json value. An empty value (or JSON null, which the
// Python controller also reads as no state) is an empty Document. When portClaims is
// present it is authoritative; otherwise the older allocations list is read and the
// Document is marked Migrated. Defaults: protocol TCP, source auto, muxPort from port.
// Unknown fields are ignored. Anything that could make a port's owner ambiguous is an
// error naming the claim and the field, so the agent never writes over it.
func Decode(raw string) (Document, error) {
	if raw == "" {
		return Document{}, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil {
		if json.Valid([]byte(raw)) {
			return Document{}, fmt.Errorf("not a JSON object")
		}
		return Document{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var doc Document
	if err := decodeMux(top[keyMux], &doc); err != nil {
		return Document{}, err
	}
	field, list := keyPortClaims, top[keyPortClaims]
	if isNull(list) {
		// The Python controller treats a present but null portClaims as absent too.
		field, list = keyAllocations, top[keyAllocations]
		doc.Migrated = len(top) > 0
	}
	if isNull(list) {
		return doc, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil {
		return Document{}, fmt.Errorf("%s is not a list", field)
	}
	claims := make([]Claim, 0, len(items))
	for i, item := range items {
		c, err := decodeClaim(item)
		if err != nil {
			return Document{}, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		claims = append(claims, c)
	}
	doc.Claims = normalizeClaims(claims)
	return doc, nil
}

func decodeMux(raw json.RawMessage, doc *Document) error {
	if isNull(raw) {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("mux is not an object")
	}
	var err error
	if doc.Mux.Name, err = stringField(fields, "mux", "name"); err != nil {
		return err
	}
	doc.Mux.Namespace, err = stringField(fields, "mux", "namespace")
	return err
}

func decodeClaim(raw json.RawMessage) (Claim, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Claim{}, fmt.Errorf("not an object")
	}
	var c Claim
	for _, f := range []struct {
		name string
		dst  *string
	}{{"namespace", &c.Namespace}, {"service", &c.Service}, {"portName", &c.PortName}} {
		v, err := stringField(fields, "", f.name)
		if err != nil {
			return Claim{}, err
		}
		if v == "" {
			// Without its identity a claim cannot be matched to a channel port, and
			// guessing would hand its port to someone else.
			return Claim{}, fmt.Errorf("missing %s", f.name)
		}
		*f.dst = v
	}
	protocol, err := stringField(fields, "", "protocol")
	if err != nil {
		return Claim{}, err
	}
	c.Protocol = ports.CanonicalProtocol(corev1.Protocol(protocol))

	if c.Source, err = stringField(fields, "", "source"); err != nil {
		return Claim{}, err
	}
	switch c.Source {
	case "":
		c.Source = SourceAuto
	case SourceAuto, SourceStatic:
	default:
		return Claim{}, fmt.Errorf("source %q is not %q or %q", c.Source, SourceAuto, SourceStatic)
	}

	// muxPort is authoritative; port is its older name and only read without it.
	portField := "muxPort"
	if isNull(fields[portField]) {
		portField = "port"
	}
	if isNull(fields[portField]) {
		return Claim{}, fmt.Errorf("missing muxPort")
	}
	if c.MuxPort, err = portValue(fields[portField], portField); err != nil {
		return Claim{}, err
	}
	if !isNull(fields["channelPort"]) {
		if c.ChannelPort, err = portValue(fields["channelPort"], "channelPort"); err != nil {
			return Claim{}, err
		}
	}
	return c, nil
}

// stringField reads an optional string; missing or null is "".
func stringField(fields map[string]json.RawMessage, object, name string) (string, error) {
	raw := fields[name]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if object != "" {
			name = object + "." + name
		}
		return "", fmt.Errorf("%s is not a string", name)
	}
	return s, nil
}

// portValue reads a JSON number that is an integer in 1-65535. Integral floats such as
// 20000.0 are accepted because Python's int() accepted them; strings are not numbers.
func portValue(raw json.RawMessage, name string) (int32, error) {
	text := string(bytes.TrimSpace(raw))
	bad := fmt.Errorf("%s %s is not a port number 1-65535", name, text)
	if text == "" || (text[0] != '-' && (text[0] < '0' || text[0] > '9')) {
		return 0, bad
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > 65535 {
		return 0, bad
	}
	return int32(f), nil
}

// isNull is true for a missing value or JSON null.
func isNull(raw json.RawMessage) bool {
	return raw == nil || string(bytes.TrimSpace(raw)) == "null"
}
