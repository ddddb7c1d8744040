package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// runCheck runs `kubectl svcmux check args…` with stdin, against a fake cluster
// holding live (nil: no cluster at all — any attempt to reach one fails the test).
func runCheck(t *testing.T, live []runtime.Object, stdin string, args ...string) fxResult {
	t.Helper()
	newClient := func() (kubernetes.Interface, error) {
		if live == nil {
			t.Errorf("check contacted the cluster")
			return nil, errors.New("no cluster in this test")
		}
		return fake.NewClientset(live...), nil
	}
	return runCheckWith(t, newClient, stdin, args...)
}

// runCheckWith runs check with a client constructor of the test's choosing.
func runCheckWith(t *testing.T, newClient func() (kubernetes.Interface, error), stdin string, args ...string) fxResult {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	g := &Globals{Getenv: func(string) string { return "" }, NewClient: newClient}
	// A kubeconfig that does not exist: the namespace default must not come from the host.
	args = append([]string{"check", "--kubeconfig=" + filepath.Join(t.TempDir(), "none")}, args...)
	code := ExecuteContext(context.Background(), streams, g, args)
	return fxResult{Code: code, Out: out.String(), ErrOut: errOut.String()}
}

// checkFilesDir writes manifests into a temporary directory and returns it.
func checkFilesDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

// checkChannelYAML is a channel manifest of mux svc-mux/mux in namespace ns
// ("" = none given) with one TCP port and optional external-ports.
func checkChannelYAML(ns, name, externalPorts, portName string, port int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n")
	if ns != "" {
		b.WriteString("  namespace: " + ns + "\n")
	}
	if externalPorts != "" {
		b.WriteString("  annotations:\n    svc-mux.nowake.ai/external-ports: \"" + externalPorts + "\"\n")
	}
	b.WriteString("spec:\n  type: LoadBalancer\n  loadBalancerClass: svc-mux.nowake.ai/mux.svc-mux\n  selector: {app: " + name + "}\n")
	b.WriteString("  ports:\n    - name: " + portName + "\n      port: " + strconv.Itoa(port) + "\n")
	return b.String()
}

const checkExamplesTable = `MUX           STATUS        PORTS   RANGE         CHANNELS   FILE
svc-mux/mux   Valid (new)   4/10    20000-20099   4          ../../examples/mux.yaml:4

CHANNEL           MUX           STATUS                      PORTS                                           FILE
demo/grpc         svc-mux/mux   Accepted                    grpc:9090->20000/TCP, metrics:9100->20001/TCP   ../../examples/channel-auto.yaml:3
demo/web-canary   svc-mux/mux   Rejected: MuxPortConflict   http:80->pending/TCP                            ../../examples/channel-conflict.yaml:5
demo/web          svc-mux/mux   Accepted                    http:80->80/TCP                                 ../../examples/channel-default.yaml:20
demo/api          svc-mux/mux   Accepted                    http:8080->30080/TCP                            ../../examples/channel-explicit.yaml:2

../../examples/channel-conflict.yaml:5: demo/web-canary Rejected: MuxPortConflict: channel demo/web-canary: 80/TCP is already claimed by demo/web:782f0d8

note: check predicts what the agent does with everything in the files applied at once (ONE pass over them all, and the passes after it until nothing changes); applied one by one, the channels applied first become owners of their ports.
note: --offline: planned on the files alone, not on the live cluster.
note: objects without metadata.namespace are in namespace "default".
note: ignored 1 object(s) the agent does not read: 1 Deployment.
`

func TestCheckOfflineOnTheShippedExamplesPredictsEachKindOfChannel(t *testing.T) {
	res := runCheck(t, nil, "", "--offline", "-f", "../../examples/")
	assert.Equal(t, ExitFound, res.Code, res.ErrOut)
	assert.Equal(t, checkExamplesTable, res.Out)
	assert.Empty(t, res.ErrOut)
}

// checkLive is a cluster with mux svc-mux/mux (range 20000-20009, max-ports 3)
// and two accepted owners: app/owner (http 8080, default) and app/zauto
// (grpc auto → 20000), with their claims persisted.
func checkLive() []runtime.Object {
	mux := fxMux("svc-mux", "mux", map[string]string{"port-range": "20000-20009", "max-ports": "3"},
		fxMuxPort("app", "owner", "http", 8080, corev1.ProtocolTCP, 0),
		fxMuxPort("app", "zauto", "grpc", 20000, corev1.ProtocolTCP, 0))
	return []runtime.Object{mux,
		fxWithPorts(fxChannel("app", "owner", "mux.svc-mux", nil, fxTCP("http", 8080)), "http:8080->8080"),
		fxWithPorts(fxChannel("app", "zauto", "mux.svc-mux", map[string]string{"external-ports": "grpc:auto"}, fxTCP("grpc", 9090)), "grpc:9090->20000"),
		fxState("svc-mux", "mux", fxDoc("svc-mux", "mux",
			fxClaim("app", "owner", "http", "TCP", 8080, 8080, "static"),
			fxClaim("app", "zauto", "grpc", "TCP", 9090, 20000, "auto"))),
	}
}

// checkSummary is one line per channel: "ns/name Status Reason ports" (ports as
// name:port->muxPort/PROTO), plus "mux ns/name Status Reason" per mux.
func checkSummary(t *testing.T, out string) []string {
	t.Helper()
	var doc CheckReport
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	var lines []string
	for _, m := range doc.Muxes {
		lines = append(lines, strings.TrimSpace("mux "+m.Namespace+"/"+m.Name+" "+m.Status+" "+m.Reason))
	}
	for _, c := range doc.Channels {
		lines = append(lines, c.Namespace+"/"+c.Name+" "+c.Status+" "+c.Reason+" "+checkPortsText(c.Ports))
	}
	return lines
}

func TestCheckOverlaysTheFilesOnTheLiveCluster(t *testing.T) {
	owner := fxHash("app", "owner", "http")
	tests := []struct {
		name    string
		live    []runtime.Object // checkLive() when nil
		files   map[string]string
		args    []string
		code    int
		want    []string
		message string // of the first channel, when set
	}{
		{"a newcomer that sorts first is refused the port a live owner holds, naming the owner", nil,
			map[string]string{"a.yaml": checkChannelYAML("app", "aaa", "", "http", 8080)}, nil, ExitFound,
			[]string{"app/aaa Rejected MuxPortConflict http:8080->pending/TCP"},
			"channel app/aaa: 8080/TCP is already claimed by app/owner:" + owner},
		{"a new auto channel gets the first port in range no owner holds", nil,
			map[string]string{"a.yaml": checkChannelYAML("app", "new", "p:auto", "p", 7000)}, nil, ExitClean,
			[]string{"app/new Accepted Accepted p:7000->20001/TCP"},
			"channel app/new is served by mux svc-mux/mux: p:7000->20001"},
		{"a bad edit of a live owner is Kept on its last ports, and fails the check", nil,
			map[string]string{"a.yaml": checkChannelYAML("app", "owner", "http:nope", "http", 8080)}, nil, ExitFound,
			[]string{"app/owner Kept InvalidPortMapping http:8080->8080/TCP"}, ""},
		{"the channel past max-ports is refused; the one before it fits", nil,
			map[string]string{"a.yaml": checkChannelYAML("app", "b1", "", "p", 7001) + "---\n" + checkChannelYAML("app", "b2", "", "p", 7002)}, nil, ExitFound,
			[]string{"app/b1 Accepted Accepted p:7001->7001/TCP", "app/b2 Rejected MuxPortLimitExceeded p:7002->pending/TCP"}, ""},
		{"a channel naming a mux that does not exist", nil,
			map[string]string{"a.yaml": strings.Replace(checkChannelYAML("app", "lost", "", "p", 7000), "mux.svc-mux", "gone.svc-mux", 1)}, nil, ExitFound,
			[]string{"app/lost Rejected MuxNotFound p:7000->pending/TCP"}, ""},
		{"a class that does not parse", nil,
			map[string]string{"a.yaml": strings.Replace(checkChannelYAML("app", "bad", "", "p", 7000), "mux.svc-mux", "Not_A.Label", 1)}, nil, ExitFound,
			[]string{"app/bad Rejected InvalidLoadBalancerClass p:7000->pending/TCP"}, ""},
		{"a channel without a namespace goes to -n", nil,
			map[string]string{"a.yaml": checkChannelYAML("", "plain", "", "p", 7000)}, []string{"-n", "team"}, ExitClean,
			[]string{"team/plain Accepted Accepted p:7000->7000/TCP"}, ""},
		{"a live mux replaced by the files with an invalid max-ports is Invalid and its channels get nothing", nil,
			map[string]string{"mux.yaml": checkMuxYAML("mux", "lots"), "a.yaml": checkChannelYAML("app", "c", "", "p", 7000)}, nil, ExitFound,
			[]string{"mux svc-mux/mux Invalid InvalidMaxPorts", "app/c Rejected InvalidMaxPorts p:7000->pending/TCP"}, ""},
		{"a live mux replaced by the files keeps its live ports: owners stay owners", nil,
			map[string]string{"mux.yaml": checkMuxYAML("mux", "3"), "a.yaml": checkChannelYAML("app", "aaa", "", "http", 8080)}, nil, ExitFound,
			[]string{"mux svc-mux/mux Valid", "app/aaa Rejected MuxPortConflict http:8080->pending/TCP"}, ""},
		{"with no state, the owner recovered from the live mux ports wins even when the files replace the mux", checkLiveWithoutState(),
			map[string]string{"mux.yaml": checkMuxYAML("mux", "3"), "a.yaml": checkChannelYAML("app", "aaa", "", "http", 8080)}, nil, ExitFound,
			[]string{"mux svc-mux/mux Valid", "app/aaa Rejected MuxPortConflict http:8080->pending/TCP"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := checkFilesDir(t, tt.files)
			live := tt.live
			if live == nil {
				live = checkLive()
			}
			res := runCheck(t, live, "", append([]string{"-f", dir, "-o", "json"}, tt.args...)...)
			require.Equal(t, tt.code, res.Code, res.ErrOut)
			assert.Equal(t, tt.want, checkSummary(t, res.Out))
			if tt.message != "" {
				var doc CheckReport
				require.NoError(t, json.Unmarshal([]byte(res.Out), &doc))
				assert.Equal(t, tt.message, doc.Channels[0].Message)
			}
		})
	}
}

// checkMuxYAML is mux svc-mux/<name> with range 20000-20009 and max-ports.
func checkMuxYAML(name, maxPorts string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: svc-mux\n  annotations:\n" +
		"    svc-mux.nowake.ai/multiplexer: \"true\"\n    svc-mux.nowake.ai/port-range: \"20000-20009\"\n" +
		"    svc-mux.nowake.ai/max-ports: \"" + maxPorts + "\"\nspec:\n  type: LoadBalancer\n  ports:\n  - {name: placeholder, port: 101}\n"
}

// checkLiveWithoutState is checkLive with no state ConfigMap and no ports
// annotations: app/owner's 8080 is known only from the live mux spec.ports.
func checkLiveWithoutState() []runtime.Object {
	objs := checkLive()
	objs[1] = fxChannel("app", "owner", "mux.svc-mux", nil, fxTCP("http", 8080))
	objs[2] = fxChannel("app", "zauto", "mux.svc-mux", map[string]string{"external-ports": "grpc:auto"}, fxTCP("grpc", 9090))
	return objs[:3]
}

func TestCheckExitCodesInTableAndJSON(t *testing.T) {
	accepted := checkChannelYAML("app", "new", "p:auto", "p", 7000)
	rejected := checkChannelYAML("app", "aaa", "", "http", 8080)
	forbidden := func() (kubernetes.Interface, error) {
		c := fake.NewClientset(checkLive()...)
		c.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "", errors.New("no"))
		})
		return c, nil
	}
	unreachable := func() (kubernetes.Interface, error) { return nil, errors.New("load kubeconfig: no configuration") }
	tests := []struct {
		name      string
		client    func() (kubernetes.Interface, error) // a cluster holding checkLive() when nil
		manifest  string
		args      []string
		code      int
		errSuffix string
	}{
		{"every channel accepted", nil, accepted, nil, ExitClean, ""},
		{"a channel rejected", nil, rejected, nil, ExitFound, ""},
		{"YAML that does not parse", nil, "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: y\n", nil, ExitCannotRun,
			"/a.yaml:5: invalid YAML: mapping values are not allowed in this context\n"},
		{"the same Service twice", nil, accepted + "---\n" + accepted, nil, ExitCannotRun,
			"/a.yaml:16: Service app/new is also defined at "},
		{"a Service without a name", nil, "apiVersion: v1\nkind: Service\nspec: {}\n", nil, ExitCannotRun,
			"/a.yaml:1: Service has no metadata.name\n"},
		{"the cluster cannot be reached", unreachable, accepted, nil, ExitCannotRun, "error: load kubeconfig: no configuration\n"},
		{"a Forbidden List", forbidden, accepted, nil, ExitCannotRun, "error: could not list services: services is forbidden: no\n"},
		{"a path that does not exist", nil, accepted, []string{"-f", "/nonexistent/x.yaml"}, ExitCannotRun,
			"error: /nonexistent/x.yaml: no such file or directory\n"},
	}
	for _, tt := range tests {
		for _, format := range []string{"table", "json"} {
			t.Run(tt.name+" in "+format, func(t *testing.T) {
				dir := checkFilesDir(t, map[string]string{"a.yaml": tt.manifest})
				client := tt.client
				if client == nil {
					client = func() (kubernetes.Interface, error) { return fake.NewClientset(checkLive()...), nil }
				}
				res := runCheckWith(t, client, "", append([]string{"-f", dir, "-o", format}, tt.args...)...)
				assert.Equal(t, tt.code, res.Code, res.ErrOut)
				if tt.code == ExitCannotRun {
					assert.Empty(t, res.Out)
					assert.True(t, strings.HasPrefix(res.ErrOut, "error: "), res.ErrOut)
					assert.Contains(t, res.ErrOut, tt.errSuffix)
					return
				}
				assert.Empty(t, res.ErrOut)
				if format == "json" {
					var doc CheckReport
					require.NoError(t, json.Unmarshal([]byte(res.Out), &doc))
					assert.Equal(t, "CheckReport", doc.Kind)
				}
			})
		}
	}
}

func TestCheckRefusesToRunWithoutFilesOrWithAnUnknownFormat(t *testing.T) {
	res := runCheck(t, nil, "")
	assert.Equal(t, ExitCannotRun, res.Code)
	assert.Equal(t, "error: no manifests: give -f FILE, -f DIR or -f -\n", res.ErrOut)
	res = runCheck(t, nil, "", "--offline", "-f", "../../examples", "-o", "dot")
	assert.Equal(t, ExitCannotRun, res.Code)
	assert.Equal(t, "error: unknown output format \"dot\": use one of table, wide, json, yaml\n", res.ErrOut)
}

func TestCheckReadsStdinAndRecursesWithR(t *testing.T) {
	dir := checkFilesDir(t, nil)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "mux.yaml"), []byte(checkMuxYAML("mux", "5")), 0o644))
	stdin := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n" + checkChannelYAML("app", "web", "", "http", 80) +
		"---\napiVersion: v1\nkind: Service\nmetadata: {name: plain}\nspec: {type: ClusterIP}\n"
	res := runCheck(t, nil, stdin, "--offline", "-R", "-f", dir, "-f", "-", "-o", "wide")
	assert.Equal(t, ExitClean, res.Code, res.ErrOut)
	want := `MUX           STATUS        PORTS   RANGE         CHANNELS   FILE
svc-mux/mux   Valid (new)   1/5     20000-20009   1          ` + dir + `/sub/mux.yaml:1

CHANNEL   MUX           STATUS     PORTS             FILE        MESSAGE
app/web   svc-mux/mux   Accepted   http:80->80/TCP   <stdin>:5   channel app/web is served by mux svc-mux/mux: http:80->80

note: check predicts what the agent does with everything in the files applied at once (ONE pass over them all, and the passes after it until nothing changes); applied one by one, the channels applied first become owners of their ports.
note: --offline: planned on the files alone, not on the live cluster.
note: objects without metadata.namespace are in namespace "default".
note: ignored 2 object(s) the agent does not read: 1 Deployment, 1 Service (not a mux or channel).
`
	assert.Equal(t, want, res.Out)
}

func TestCheckPredictsThePassAfterTheFirstWhenItsWritesChangeAReason(t *testing.T) {
	// The first pass refuses app/a-first for the port app/owner holds, and accepts
	// b1 and b2, filling max-ports 3; in the next pass b1 and b2 are owners, the mux
	// is full before a-first is looked at, and the agent's condition says so.
	files := map[string]string{"a.yaml": checkChannelYAML("app", "a-first", "", "http", 8080) + "---\n" +
		checkChannelYAML("app", "b1", "", "p", 7001) + "---\n" + checkChannelYAML("app", "b2", "", "p", 7002)}
	live := checkLive()[:2] // the mux (max-ports 3) and app/owner, without zauto and the state
	live[0].(*corev1.Service).Spec.Ports = live[0].(*corev1.Service).Spec.Ports[:1]
	res := runCheck(t, live, "", "-f", checkFilesDir(t, files), "-o", "json")
	require.Equal(t, ExitFound, res.Code, res.ErrOut)
	assert.Equal(t, []string{"app/a-first Rejected MuxPortLimitExceeded http:8080->pending/TCP",
		"app/b1 Accepted Accepted p:7001->7001/TCP", "app/b2 Accepted Accepted p:7002->7002/TCP"}, checkSummary(t, res.Out))
	var doc CheckReport
	require.NoError(t, json.Unmarshal([]byte(res.Out), &doc))
	assert.Equal(t, 3, doc.Passes) // the second pass writes a-first's new condition; the third writes nothing
	assert.True(t, doc.Settled)
}

func TestCheckJSONIsExact(t *testing.T) {
	dir := checkFilesDir(t, map[string]string{
		"mux.yaml": checkMuxYAML("mux", "lots"),
		"ch.yaml":  "# a channel of an invalid mux\n" + checkChannelYAML("app", "c", "", "p", 7000),
	})
	res := runCheck(t, nil, "", "--offline", "-f", filepath.Join(dir, "mux.yaml"), "-f", filepath.Join(dir, "ch.yaml"), "-o", "json")
	require.Equal(t, ExitFound, res.Code, res.ErrOut)
	muxMsg := `mux svc-mux/mux: invalid svc-mux.nowake.ai/max-ports value \"lots\"; expected an integer >= 1; the mux keeps its current ports, endpoints and state until it is fixed`
	want := `{
  "apiVersion": "svcmux.nowake.ai/v1alpha1",
  "kind": "CheckReport",
  "note": "` + CheckNote + `",
  "offline": true,
  "passes": 1,
  "settled": true,
  "namespace": "default",
  "muxes": [
    {
      "namespace": "svc-mux",
      "name": "mux",
      "file": "` + dir + `/mux.yaml",
      "line": 1,
      "new": true,
      "status": "Invalid",
      "reason": "InvalidMaxPorts",
      "message": "` + muxMsg + `",
      "ports": 0,
      "limit": 0,
      "portRange": "",
      "channels": 1,
      "warnings": []
    }
  ],
  "channels": [
    {
      "namespace": "app",
      "name": "c",
      "mux": "svc-mux/mux",
      "file": "` + dir + `/ch.yaml",
      "line": 2,
      "status": "Rejected",
      "reason": "InvalidMaxPorts",
      "message": "mux svc-mux/mux is invalid (InvalidMaxPorts): the agent changes nothing on it or its channels until it is fixed: ` + muxMsg + `",
      "ports": [
        {
          "name": "p",
          "port": 7000,
          "muxPort": 0,
          "protocol": "TCP"
        }
      ]
    }
  ],
  "ignored": []
}
`
	assert.Equal(t, want, res.Out)
}

func TestCheckTableListsKeptChannelsAndMuxWarnings(t *testing.T) {
	mux := strings.Replace(checkMuxYAML("mux", "3"), `"20000-20009"`, `"20009-20000"`, 1)
	dir := checkFilesDir(t, map[string]string{
		"a.yaml": mux + "---\n" + checkChannelYAML("app", "owner", "http:nope", "http", 8080),
	})
	res := runCheck(t, checkLive(), "", "-f", dir)
	require.Equal(t, ExitFound, res.Code, res.ErrOut)
	f := dir + "/a.yaml"
	want := `MUX           STATUS   PORTS   RANGE   CHANNELS   FILE
svc-mux/mux   Valid    2/3     none    2          ` + f + `:1

CHANNEL     MUX           STATUS                     PORTS                 FILE
app/owner   svc-mux/mux   Kept: InvalidPortMapping   http:8080->8080/TCP   ` + f + `:15

` + f + `:1: mux svc-mux/mux warning: InvalidPortRange: mux svc-mux/mux: annotation svc-mux.nowake.ai/port-range: ` +
		`invalid item "20009-20000" (start is greater than end): expected N or A-B with ports 1-65535; owners keep their ports, no new automatic port is given
` + f + `:15: app/owner Kept: InvalidPortMapping: channel app/owner: annotation svc-mux.nowake.ai/external-ports: ` +
		`invalid item "http:nope": expected name:port (1-65535) or name:auto; still serving its last accepted ports http:8080->8080

note: ` + CheckNote + `.
note: objects without metadata.namespace are in namespace "default".
`
	assert.Equal(t, want, res.Out)
}
