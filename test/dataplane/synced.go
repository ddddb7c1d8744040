package dataplane

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// lastSyncMetric is kube-proxy's gauge of when it last programmed its rules
// (Unix seconds).
const lastSyncMetric = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"

// LastSync is when kube-proxy last finished programming its rules, read from
// its metrics server inside the node namespace. A test that must know the
// data plane carries an API change waits until LastSync is after the change
// was visible, rather than sleeping past kube-proxy's sync period.
func (n *Node) LastSync(ctx context.Context) (time.Time, error) {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: n.node.dial, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:10249/metrics", nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		// The gauge may carry an ipFamily label: take the first sample.
		if !strings.HasPrefix(line, lastSyncMetric) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("kube-proxy metric %q: %w", line, err)
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, fmt.Errorf("kube-proxy metrics have no %s", lastSyncMetric)
}
