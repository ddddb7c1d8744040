package faults

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"time"
)

// auditPolicy records every write (metadata only) and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
`

// agentUserAgent starts every agent request's User-Agent; the rest names the
// process's leader-election identity: "svcmux-agent/<version> (<identity>)".
const agentUserAgent = "svcmux-agent/"

// auditEvent is the part of an audit.k8s.io/v1 Event the proofs read.
type auditEvent struct {
	Stage     string    `json:"stage"`
	Verb      string    `json:"verb"`
	UserAgent string    `json:"userAgent"`
	Received  time.Time `json:"requestReceivedTimestamp"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

func (e auditEvent) succeeded() bool { return e.ResponseStatus != nil && e.ResponseStatus.Code < 300 }

func (e auditEvent) resource() string {
	if e.ObjectRef == nil {
		return ""
	}
	return e.ObjectRef.Resource
}

// identity is the leader-election identity in an agent's User-Agent, "" for others.
func (e auditEvent) identity() string {
	if !strings.HasPrefix(e.UserAgent, agentUserAgent) {
		return ""
	}
	_, id, ok := strings.Cut(e.UserAgent, " (")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(id, ")")
}

// readAudit returns the completed write requests on objects of namespace.
func readAudit(path, namespace string) ([]auditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"namespace":"`+namespace+`"`) {
			continue // cheap filter: the log holds every test's writes
		}
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			// A line cut short when the API server was killed (the restart fault):
			// that request has no complete record.
			continue
		}
		if e.Stage == "ResponseComplete" && e.ObjectRef != nil && e.ObjectRef.Namespace == namespace {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// agentWrites counts the agents' successful writes of the kinds svcmux_writes_total
// counts (Services, state ConfigMaps, EndpointSlices, Endpoints), and separately
// the Events they posted.
func agentWrites(events []auditEvent) (writes, posted int) {
	for _, e := range events {
		if e.identity() == "" || !e.succeeded() {
			continue
		}
		switch e.resource() {
		case "services", "configmaps", "endpointslices", "endpoints":
			writes++
		case "events":
			posted++
		}
	}
	return writes, posted
}
