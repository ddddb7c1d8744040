package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nowakeai/svcmux/pkg/api"
)

func TestWhichNamespacesAMuxAdmits(t *testing.T) {
	team := map[string]string{"team": "a"}
	for _, tc := range []struct {
		name     string
		names    *string // allowed-namespaces, nil = absent
		selector *string // allowed-namespace-selector, nil = absent
		ns       string
		labels   map[string]string
		admits   bool
	}{
		{"a mux without a rule admits every namespace", nil, nil, "anything", nil, true},
		{"* admits every namespace", ptr("*"), nil, "anything", nil, true},
		{"an exact name admits that namespace", ptr("team-a,ops"), nil, "ops", nil, true},
		{"an exact name admits no other namespace", ptr("team-a,ops"), nil, "ops2", nil, false},
		{"a trailing-* glob admits every namespace with the prefix", ptr("team-*"), nil, "team-a", nil, true},
		{"a trailing-* glob admits no namespace without the prefix", ptr("team-*"), nil, "teams", nil, false},
		{"entries are trimmed and empty ones skipped", ptr(" ops , ,team-* "), nil, "team-b", nil, true},
		{"a selector admits a namespace whose labels match", nil, ptr("team in (a,b)"), "x", team, true},
		{"a selector admits no namespace whose labels do not match", nil, ptr("team in (b)"), "x", team, false},
		{"a namespace with unknown labels matches no selector", nil, ptr("team=a"), "x", nil, false},
		{"with both rules, what either admits is admitted: the names", ptr("ops"), ptr("team=b"), "ops", team, true},
		{"with both rules, what either admits is admitted: the selector", ptr("ops"), ptr("team=a"), "x", team, true},
		{"with both rules, what neither admits is refused", ptr("ops"), ptr("team=b"), "x", team, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mux()
			if tc.names != nil {
				m.Annotations[testKeys.AllowedNamespaces] = *tc.names
			}
			if tc.selector != nil {
				m.Annotations[testKeys.AllowedNamespaceSelector] = *tc.selector
			}
			ten, err := ParseTenancy(m, testKeys)
			require.NoError(t, err)
			assert.Equal(t, tc.admits, ten.Admits(tc.ns, tc.labels))
			assert.Equal(t, tc.selector != nil, ten.UsesSelector())
			assert.Equal(t, tc.selector != nil, UsesNamespaceSelector(m, testKeys))
		})
	}
}

func TestAnAllowedNamespacesRuleThatDoesNotParseIsAnError(t *testing.T) {
	for _, tc := range []struct{ value, err string }{
		{"", `annotation svc-mux.nowake.ai/allowed-namespaces: no namespace given; expected "*" or a comma list such as "team-a, team-*"`},
		{"team-*-x", `annotation svc-mux.nowake.ai/allowed-namespaces: "team-*-x": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"`},
		{"*team", `annotation svc-mux.nowake.ai/allowed-namespaces: "*team": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"`},
		{"-a*, b.c", `annotation svc-mux.nowake.ai/allowed-namespaces: "-a*", "b.c": not a namespace name or a name prefix followed by *; expected "*" or a comma list such as "team-a, team-*"`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, err := ParseTenancy(mux(muxAnn(testKeys.AllowedNamespaces, tc.value)), testKeys)
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
		})
	}
	_, err := ParseTenancy(mux(muxAnn(testKeys.AllowedNamespaceSelector, "  ")), testKeys)
	require.Error(t, err)
	assert.Equal(t, `annotation svc-mux.nowake.ai/allowed-namespace-selector is empty; give a label selector such as "team in (a,b)", or remove it`, err.Error())
}

// A mux allowing team-*: the channel in team-a is served; the one in other is
// rejected NamespaceNotAllowed with a message naming the mux, the rule and the fix.
func TestAChannelFromANamespaceTheMuxDoesNotAdmitIsRejected(t *testing.T) {
	m := mux(muxAnn(testKeys.AllowedNamespaces, "team-*"))
	p := compute(t, Snapshot{Mux: m, Channels: channels(channel("team-a/api", "http:8080"), channel("other/web", "http:9090"))})
	assert.True(t, outcome(t, p, "team-a/api").Accepted)
	o := outcome(t, p, "other/web")
	assert.False(t, o.Serving())
	assert.Equal(t, api.ReasonNamespaceNotAllowed, o.Reason)
	assert.Equal(t, `channel other/web: namespace other may not attach to mux svc-mux/mux (svc-mux.nowake.ai/allowed-namespaces="team-*"); ask the mux owner to add it to svc-mux.nowake.ai/allowed-namespaces, or use another mux`, o.Message)
	assert.Equal(t, []string{muxPort(8080, "TCP", "team-a/api", "http")}, portList(p))
	assert.Equal(t, o.Message, message(t, p, "other/web", api.ReasonNamespaceNotAllowed))
	assert.Equal(t, 1, p.Stats.Rejected)
}

// Revoking a namespace is the one deliberate take-down (SPEC §10): an owner in a
// namespace no longer admitted keeps nothing, its claims are pruned, and a
// newcomer may take the freed port in the same pass.
func TestRevokingANamespaceFreesItsPorts(t *testing.T) {
	m := mux(muxAnn(testKeys.AllowedNamespaces, "team-b"), muxPorts(sp("team-a", "api", "http", 8080, "TCP")))
	s := Snapshot{
		Mux:            m,
		Channels:       channels(withPorts(channel("team-a/api", "http:8080"), "http:8080->8080"), channel("team-b/web", "http:8080")),
		StateConfigMap: stateOf(claim("team-a/api", "http", "TCP", 8080, 8080, "static")),
	}
	p := compute(t, s)
	o := outcome(t, p, "team-a/api")
	assert.False(t, o.Serving(), "a revoked owner keeps nothing")
	assert.False(t, o.Kept)
	assert.Equal(t, api.ReasonNamespaceNotAllowed, o.Reason)
	assert.True(t, outcome(t, p, "team-b/web").Accepted, "the freed port goes to the admitted newcomer")
	assert.Equal(t, []string{muxPort(8080, "TCP", "team-b/web", "http")}, portList(p))
	assert.Equal(t, []string{"TCP:team-b:web:http=8080/static"}, claimsOf(p))
	assert.True(t, p.State.Write)
}

// A selector rule follows Namespace labels: the same channel is admitted or not
// by its namespace's labels alone.
func TestASelectorRuleFollowsNamespaceLabels(t *testing.T) {
	m := mux(muxAnn(testKeys.AllowedNamespaceSelector, "team=a"))
	chs := channels(channel("ns1/api", "http:8080"))
	labelled := compute(t, Snapshot{Mux: m, Channels: chs, Namespaces: map[string]map[string]string{"ns1": {"team": "a"}}})
	assert.True(t, outcome(t, labelled, "ns1/api").Accepted)

	relabelled := compute(t, Snapshot{Mux: m, Channels: chs, Namespaces: map[string]map[string]string{"ns1": {"team": "b"}}})
	o := outcome(t, relabelled, "ns1/api")
	assert.Equal(t, api.ReasonNamespaceNotAllowed, o.Reason)
	assert.Equal(t, `channel ns1/api: namespace ns1 may not attach to mux svc-mux/mux (svc-mux.nowake.ai/allowed-namespace-selector="team=a"); ask the mux owner to add it to svc-mux.nowake.ai/allowed-namespace-selector (or label the namespace to match it), or use another mux`, o.Message)
}

// A rule of "*" is a rule, but admits everyone: a takeover mux that sets it
// changes nothing.
func TestAStarRuleChangesNothing(t *testing.T) {
	chs := channels(channel("a/api", "http:8080"), channel("b/web", "http:9090"))
	open := compute(t, Snapshot{Mux: mux(), Channels: chs})
	star := compute(t, Snapshot{Mux: mux(muxAnn(testKeys.AllowedNamespaces, "*")), Channels: chs})
	assert.Equal(t, open.Ports, star.Ports)
	assert.Equal(t, open.Channels, star.Channels)
	assert.Equal(t, open.State.Document, star.State.Document)
}
