package install

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// auditPolicy records every request of a service account (metadata only) and nothing
// else: the agent runs as one, the tests' admin client does not.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

// auditEvent is the part of an audit.k8s.io/v1 Event the proof reads.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	ObjectRef  *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"responseStatus"`
}

// access is one kind of request: "verb group/resource[/subresource]" (core group: "").
type access struct{ verb, group, resource string }

func (a access) String() string {
	g := a.group
	if g == "" {
		g = "core"
	}
	return fmt.Sprintf("%-6s %s/%s", a.verb, g, a.resource)
}

// usage counts user's completed requests by kind, and lists the ones refused (403)
// and those to non-resource URLs.
type usage struct {
	counts    map[access]int
	forbidden []string
	other     []string
}

// testUserAgent marks the test's own requests as the service account, left out of the
// proof (it is about the agent).
const testUserAgent = "svcmux-install-test"

// rbacDenied is in every message of a request the authorizer refused
// (`services is forbidden: User "…" cannot get resource …`).
const rbacDenied = `is forbidden: User "`

func readAudit(path, user string) (usage, error) {
	u := usage{counts: map[access]int{}}
	f, err := os.Open(path)
	if err != nil {
		return u, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return u, fmt.Errorf("%s: %w", path, err)
		}
		if e.User.Username != user || e.Stage != "ResponseComplete" || e.UserAgent == testUserAgent {
			continue
		}
		// An authorizer's refusal, not admission's (a 403 for a namespace being deleted,
		// say, which another test's leftovers can cause).
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 && strings.Contains(e.ResponseStatus.Message, rbacDenied) {
			u.forbidden = append(u.forbidden, e.Verb+" "+e.RequestURI+": "+e.ResponseStatus.Message)
		}
		if e.ObjectRef == nil {
			u.other = append(u.other, e.Verb+" "+e.RequestURI)
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		u.counts[access{e.Verb, e.ObjectRef.APIGroup, res}]++
	}
	return u, sc.Err()
}

// granted expands rules into the kinds of request they allow.
func granted(rules ...[]rbacv1.PolicyRule) map[access]bool {
	out := map[access]bool{}
	for _, rs := range rules {
		for _, r := range rs {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out[access{v, g, res}] = true
					}
				}
			}
		}
	}
	return out
}

// table is the proof's output: each granted kind of request, how often it was used.
func table(g map[access]bool, u usage, unusedWhy map[access]string) string {
	keys := make([]access, 0, len(g))
	for a := range g {
		keys = append(keys, a)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var b strings.Builder
	fmt.Fprintf(&b, "%-45s %6s  %s\n", "granted", "used", "why unused")
	for _, a := range keys {
		fmt.Fprintf(&b, "%-45s %6d  %s\n", a, u.counts[a], unusedWhy[a])
	}
	return b.String()
}
