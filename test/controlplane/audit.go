package controlplane

import (
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options change how StartWith runs the control plane; the zero value is Start's.
type Options struct {
	// AuditPolicy, when set, is an audit.k8s.io/v1 Policy document: the API server
	// writes the events it selects, one JSON object per line, to AuditLogPath (the
	// blocking backend, so an event is on disk before its response is sent). Tests use
	// it to prove which requests a client made, e.g. that RBAC grants nothing unused.
	AuditPolicy string
}

// AuditLogPath is the API server's audit log (empty without Options.AuditPolicy).
func (cp *ControlPlane) AuditLogPath() string {
	if cp.opts.AuditPolicy == "" {
		return ""
	}
	return filepath.Join(cp.LogDir(), "audit.log")
}

func (cp *ControlPlane) configureAudit(api *envtest.APIServer) error {
	if cp.opts.AuditPolicy == "" {
		return nil
	}
	policy := filepath.Join(cp.runDir, "apiserver", "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(cp.opts.AuditPolicy), 0o600); err != nil {
		return err
	}
	api.Configure().
		Set("audit-policy-file", policy).
		Set("audit-log-path", cp.AuditLogPath()).
		Set("audit-log-format", "json").
		Set("audit-log-mode", "blocking")
	return nil
}
