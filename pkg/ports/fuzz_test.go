package ports

import (
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/<FuzzName>/ and run with every `go test`; a
// `go test -fuzz` run explores from them.

func FuzzParseExternalPorts(f *testing.F) {
	f.Add("http:30080, grpc:auto")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseExternalPorts(s)
		if err != nil {
			if m != nil {
				t.Fatalf("map %v returned with error %v", m, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid item") {
				t.Fatalf("error %q does not name the items", err)
			}
			return
		}
		for name, v := range m {
			if name == "" || strings.TrimSpace(name) != name || strings.Contains(name, ",") {
				t.Fatalf("bad name %q", name)
			}
			if v.Auto == (v.Port != 0) || (!v.Auto && !validPort(v.Port)) {
				t.Fatalf("bad mapping %q: %+v", name, v)
			}
		}
	})
}

func FuzzParsePortRange(f *testing.F) {
	f.Add("20000-20099, 30000")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			if r != nil {
				t.Fatalf("ranges %v returned with error %v", r, err)
			}
			return
		}
		for _, rg := range r {
			if !validPort(rg.Start) || !validPort(rg.End) || rg.Start > rg.End {
				t.Fatalf("bad range %+v from %q", rg, s)
			}
		}
		again, err := ParsePortRange(r.String())
		if err != nil {
			t.Fatalf("String() %q does not reparse: %v", r.String(), err)
		}
		if again.String() != r.String() || size(again) != size(r) {
			t.Fatalf("%q reparses as %q", r.String(), again.String())
		}
		for _, rg := range r {
			for _, p := range []int32{rg.Start, rg.End} {
				if !again.Contains(p) {
					t.Fatalf("%d lost in %q", p, again.String())
				}
			}
		}
	})
}

func FuzzParsePortsAnnotation(f *testing.F) {
	f.Add("http:8080->20000, grpc:9090->20001")
	f.Fuzz(func(t *testing.T, s string) {
		m := ParsePortsAnnotation(s)
		var mappings []PortMapping
		for name, p := range m {
			if !validPort(p) {
				t.Fatalf("bad port %d for %q", p, name)
			}
			if strings.ContainsAny(name, ",:") || strings.Contains(name, "->") {
				continue // such names cannot round-trip; channel port names never hold them
			}
			mappings = append(mappings, PortMapping{Name: name, ChannelPort: 1, MuxPort: p})
		}
		back := ParsePortsAnnotation(FormatPortsAnnotation(mappings))
		for _, pm := range mappings {
			if back[pm.Name] != pm.MuxPort {
				t.Fatalf("%q: %d after round trip, want %d", pm.Name, back[pm.Name], pm.MuxPort)
			}
		}
	})
}
