package controlplane

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// CompactEtcd compacts etcd's history up to its current revision, as the API
// server itself does every few minutes: a watch later resumed from an older
// resourceVersion is answered 410 Gone, and its client must relist. It speaks to
// etcd's JSON gateway (no etcd client module needed) and returns the revision.
func (cp *ControlPlane) CompactEtcd() (int64, error) {
	if cp.env == nil || cp.env.ControlPlane.Etcd == nil || cp.env.ControlPlane.Etcd.URL == nil {
		return 0, fmt.Errorf("compact etcd: the control plane is stopped")
	}
	base := cp.env.ControlPlane.Etcd.URL.String()
	var rng struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := etcdPost(base+"/v3/kv/range", map[string]any{"key": base64.StdEncoding.EncodeToString([]byte("/"))}, &rng); err != nil {
		return 0, err
	}
	rev, err := strconv.ParseInt(rng.Header.Revision, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("compact etcd: revision %q: %w", rng.Header.Revision, err)
	}
	if err := etcdPost(base+"/v3/kv/compaction", map[string]any{"revision": strconv.FormatInt(rev, 10), "physical": true}, nil); err != nil {
		return 0, err
	}
	return rev, nil
}

func etcdPost(url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("compact etcd: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		return fmt.Errorf("compact etcd: %s: %s %s", url, resp.Status, msg.String())
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
