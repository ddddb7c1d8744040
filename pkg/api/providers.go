package api

// AWS Network Load Balancer detection (SPEC §10). An NLB has at most 50 listeners
// (an AWS hard quota) and each public (port, protocol) of the mux is one listener.
const (
	AWSNLBClass                   = "service.k8s.aws/nlb"
	AWSLoadBalancerTypeAnnotation = "service.beta.kubernetes.io/aws-load-balancer-type"
	AWSNLBMaxPorts                = 50
)

// AWSNLBLoadBalancerTypes are the values of AWSLoadBalancerTypeAnnotation that make
// an NLB: "nlb" (the in-tree cloud provider) and "external" (the AWS Load Balancer
// Controller).
var AWSNLBLoadBalancerTypes = []string{"nlb", "external"}

// ProviderLoadBalancerAnnotationPrefixes are the annotations a cloud controller reads
// from a Service to shape its load balancer (SPEC §10). On a channel they do nothing:
// no load balancer is ever made for a channel, only for its mux.
var ProviderLoadBalancerAnnotationPrefixes = []string{
	"service.beta.kubernetes.io/aws-load-balancer-",
	"service.beta.kubernetes.io/azure-",
	"cloud.google.com/",
	"networking.gke.io/",
}
