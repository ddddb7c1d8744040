package api

// NodePort memory (SPEC §10): the state ConfigMap key beside StateKey that remembers
// each mux port's last NodePort, and the reasons that report on it. Kept in a file
// of its own so the NodePort feature's names stay together.
const (
	// NodePortsKey holds the remembered NodePorts. The Python controller reads only
	// StateKey and ignores this one.
	NodePortsKey = "nodeports.json"

	// ReasonNodePortReassigned (Warning, on the mux): a port restored after a full
	// replace could not get its remembered NodePort back; the API server chose one.
	ReasonNodePortReassigned = "NodePortReassigned"
	// ReasonNodePortMemoryInvalid (Warning, on the mux): nodeports.json does not
	// parse; it is ignored and rewritten from the live mux.
	ReasonNodePortMemoryInvalid = "NodePortMemoryInvalid"
)
