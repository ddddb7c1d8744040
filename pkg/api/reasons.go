package api

// Event and condition reasons (SPEC §5). Normal reasons report changes the agent made;
// warning reasons name a refusal and always come with a message saying what to fix.
const (
	ReasonMuxPortsChanged       = "MuxPortsChanged"
	ReasonMuxAnnotationsUpdated = "MuxAnnotationsUpdated"
	ReasonMuxEndpointsCreated   = "MuxEndpointsCreated"
	ReasonMuxEndpointsChanged   = "MuxEndpointsChanged"

	ReasonNotLoadBalancer                  = "NotLoadBalancer"
	ReasonNotSupported                     = "NotSupported"
	ReasonInvalidLoadBalancerClass         = "InvalidLoadBalancerClass"
	ReasonInvalidPort                      = "InvalidPort"
	ReasonInvalidPortMapping               = "InvalidPortMapping"
	ReasonInvalidPortRange                 = "InvalidPortRange"
	ReasonInvalidMaxPorts                  = "InvalidMaxPorts"
	ReasonPortAllocationStoreInvalid       = "PortAllocationStoreInvalid"
	ReasonPortAllocationStoreTooLarge      = "PortAllocationStoreTooLarge"
	ReasonMuxPortConflict                  = "MuxPortConflict"
	ReasonMuxPortLimitExceeded             = "MuxPortLimitExceeded"
	ReasonGkePortLimitApplied              = "GkePortLimitApplied"
	ReasonAwsNlbPortLimitApplied           = "AwsNlbPortLimitApplied"
	ReasonChannelFieldIgnored              = "ChannelFieldIgnored"
	ReasonMuxExternalDNSAnnotationConflict = "MuxExternalDnsAnnotationConflict"
	ReasonMuxNotFound                      = "MuxNotFound"
	ReasonNamespaceNotAllowed              = "NamespaceNotAllowed"
	ReasonInvalidAllowedNamespaces         = "InvalidAllowedNamespaces"
)

// Event types: svcmux posts the standard Warning where the Python controller used Error.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)
