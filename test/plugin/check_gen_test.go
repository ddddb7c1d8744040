package plugin

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nowakeai/svcmux/test/world"
)

// genPort is one declared channel port.
type genPort struct {
	Name     string
	Port     int
	Protocol string
}

// genObject is one generated manifest object and where it was written.
type genObject struct {
	Name string
	// Mux is the mux a channel's class names ("" for a mux).
	Mux    string
	IsMux  bool
	Kind   string // what the generator meant it to test, for failure messages
	YAML   string
	File   string
	Line   int
	Orphan bool // names a mux that does not exist: planned by the channel pass
}

// checkGen generates the manifests of the check property test: one new mux,
// one invalid mux, and channels of every kind — default, explicit and auto
// ports, conflicts with the live owners (one by a newcomer that sorts before
// them), bad mappings, a bad edit of a live owner, channels of the new mux
// (more ports than its max-ports) and of the invalid mux, one of a mux that
// does not exist, two that fill a live mux so that its second pass changes
// the first one's reason — then random ones from a small port space, so
// newcomers also collide with each other and with the owners.
type checkGen struct {
	w   *world.World
	rnd *rand.Rand
	n   int
}

func (g *checkGen) objects(total int) []genObject {
	out := []genObject{
		g.mux("mux-b", map[string]string{"port-range": "21000-21009", "max-ports": "4"}),
		g.mux("mux-bad", map[string]string{"port-range": "22000-22009", "max-ports": "lots"}),
		g.channel("default", "mux", "", genPort{"http", g.defaultPort(), "TCP"}),
		g.channel("explicit", "mux", "http:"+fmt.Sprint(g.explicitPort()), genPort{"http", 80, "TCP"}),
		g.channel("auto", "mux", "grpc:auto, metrics:auto", genPort{"grpc", 9090, "TCP"}, genPort{"metrics", 9100, "TCP"}),
		g.channel("udp", "mux", "", genPort{"dns", 53, "UDP"}, genPort{"dns-tcp", 53, "TCP"}),
		g.channel("conflict", "mux", "", genPort{"http", 8080, "TCP"}),                  // owner-default's 8080
		g.channel("conflict-explicit", "mux", "web:30080", genPort{"web", 8081, "TCP"}), // owner-explicit's 30080
		g.named("a-first", "first-sorter", "mux", "p:20000", genPort{"p", 81, "TCP"}),   // owner-auto's 20000
		g.channel("bad-name", "mux", "nope:7100", genPort{"http", 7100, "TCP"}),
		g.channel("bad-number", "mux", "http:70000", genPort{"http", 7101, "TCP"}),
		g.channel("bad-value", "mux", "http:abc", genPort{"http", 7102, "TCP"}),
		g.named("owner-default", "kept-edit", "mux", "http:12x", genPort{"http", 8080, "TCP"}),
		g.channel("new-mux", "mux-b", "", genPort{"http", 80, "TCP"}),
		g.channel("new-mux-auto", "mux-b", "http:auto", genPort{"http", 8080, "TCP"}),
		g.channel("new-mux-pair", "mux-b", "", genPort{"a", 81, "TCP"}, genPort{"b", 82, "TCP"}),
		g.channel("new-mux-over", "mux-b", "", genPort{"http", 83, "TCP"}), // the fifth port of max-ports 4
		g.channel("invalid-mux", "mux-bad", "", genPort{"http", 80, "TCP"}),
		g.named("a-full", "second-pass", "mux-full", "", genPort{"http", 8080, "TCP"}),
		g.named("b-full", "fills-the-mux", "mux-full", "", genPort{"http", 8081, "TCP"}),
		g.channel("orphan", "nowhere", "", genPort{"http", 80, "TCP"}),
	}
	out[len(out)-1].Orphan = true
	for len(out) < total {
		switch g.rnd.IntN(5) {
		case 0:
			out = append(out, g.channel("rand-default", "mux", "", genPort{"p", g.defaultPort(), g.protocol()}))
		case 1:
			out = append(out, g.channel("rand-explicit", "mux", "p:"+fmt.Sprint(g.explicitPort()), genPort{"p", 80, "TCP"}))
		case 2:
			out = append(out, g.channel("rand-auto", "mux", "p:auto", genPort{"p", 80, g.protocol()}))
		case 3:
			out = append(out, g.channel("rand-mux-b", "mux-b", "p:auto", genPort{"p", 80, "TCP"}))
		default:
			out = append(out, g.channel("rand-mux-b-default", "mux-b", "", genPort{"p", g.defaultPort(), "TCP"}))
		}
	}
	return out
}

// A small port space, so random channels collide with each other and the owners.
func (g *checkGen) defaultPort() int  { return 7000 + g.rnd.IntN(8) }
func (g *checkGen) explicitPort() int { return []int{30000, 30001, 30002, 30003, 30080}[g.rnd.IntN(5)] }
func (g *checkGen) protocol() string  { return []string{"TCP", "TCP", "UDP"}[g.rnd.IntN(3)] }

func (g *checkGen) channel(kind, mux, externalPorts string, ports ...genPort) genObject {
	g.n++
	return g.named(fmt.Sprintf("c%02d-%s", g.n, kind), kind, mux, externalPorts, ports...)
}

func (g *checkGen) named(name, kind, mux, externalPorts string, ports ...genPort) genObject {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\n", name, g.w.Namespace)
	if externalPorts != "" {
		fmt.Fprintf(&b, "  annotations:\n    %s: %q\n", g.w.Key("external-ports"), externalPorts)
	}
	fmt.Fprintf(&b, "spec:\n  type: LoadBalancer\n  loadBalancerClass: %s\n  allocateLoadBalancerNodePorts: false\n  selector:\n    app: %s\n  ports:\n",
		g.w.Class(mux), name)
	for _, p := range ports {
		fmt.Fprintf(&b, "    - name: %s\n      port: %d\n      protocol: %s\n", p.Name, p.Port, p.Protocol)
	}
	return genObject{Name: name, Mux: mux, Kind: kind, YAML: b.String()}
}

func (g *checkGen) mux(name string, ann map[string]string) genObject {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\n  annotations:\n    %s: \"true\"\n",
		name, g.w.Namespace, g.w.Key("multiplexer"))
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "    %s: %q\n", g.w.Key(k), ann[k])
	}
	b.WriteString("spec:\n  type: LoadBalancer\n  ports:\n    - name: placeholder\n      port: 101\n      protocol: TCP\n")
	return genObject{Name: name, IsMux: true, Kind: "mux", YAML: b.String()}
}

// writeManifests writes the objects into dir: mostly one per file, every fourth
// file holding two documents behind a comment, so lines are worth checking.
// It records each object's file and line and returns the files' contents.
func writeManifests(t *testing.T, dir string, objs []genObject) map[string]string {
	t.Helper()
	files := map[string]string{}
	for i := 0; i < len(objs); i++ {
		name := filepath.Join(dir, fmt.Sprintf("%02d-%s.yaml", i, objs[i].Name))
		var b strings.Builder
		objs[i].File, objs[i].Line = name, 1
		b.WriteString(objs[i].YAML)
		if i%4 == 3 && i+1 < len(objs) {
			b.WriteString("---\n# the next object shares this file\n\n")
			i++
			objs[i].File, objs[i].Line = name, strings.Count(b.String(), "\n")+1
			b.WriteString(objs[i].YAML)
		}
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = b.String()
	}
	return files
}
