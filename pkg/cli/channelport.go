package cli

// ChannelPort is a public port of a mux and the channel port it serves, the
// fields the claims and who-has documents share (SPEC §8). Embedded, its fields
// are the documents' own in JSON and YAML.
type ChannelPort struct {
	Mux       string `json:"mux"`
	Port      int32  `json:"port"`
	Protocol  string `json:"protocol"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	PortName  string `json:"portName"`
	// Source is the claim's source (auto, static) as the agent records it.
	Source string `json:"source"`
}
