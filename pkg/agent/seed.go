package agent

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// listOwnEvents lists the Events svcmux posted, page by page. A failure (no RBAC
// for list, say) only means warnings may be posted once more after a restart.
func listOwnEvents(ctx context.Context, client kubernetes.Interface) ([]corev1.Event, error) {
	var out []corev1.Event
	opts := metav1.ListOptions{FieldSelector: "source=" + EventComponent, Limit: 500}
	for {
		list, err := client.CoreV1().Events("").List(ctx, opts)
		if err != nil {
			return out, err
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}
