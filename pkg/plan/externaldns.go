package plan

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nowakeai/svcmux/pkg/api"
)

// externalDNS aggregates the channels' external-dns wishes onto the mux (SPEC §5):
// hostnames de-duplicated in channel order, cloudflare-proxied ANDed. A key present
// on the mux but not listed in <prefix>/aggregated-external-dns belongs to the user:
// it is left alone and each channel asking for it gets a conflict Event. It fills
// want and returns the agent-owned keys that must be absent.
func (p *pass) externalDNS(want map[string]string) (remove []string) {
	var hosts []string
	seen := map[string]bool{}
	proxied, sawProxied := true, false
	for _, c := range p.channels {
		for _, h := range splitList(c.dns.hostnames) {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
		switch c.dns.proxied {
		case "true":
			sawProxied = true
		case "false":
			sawProxied, proxied = true, false
		}
	}
	aggregate := map[string]string{}
	if len(hosts) > 0 {
		aggregate[api.ExternalDNSHostname] = strings.Join(hosts, ",")
	}
	if sawProxied {
		aggregate[api.ExternalDNSCloudflareProxied] = fmt.Sprint(proxied)
	}

	live := p.snap.Mux.Annotations
	managed := map[string]bool{}
	for _, k := range splitList(live[p.keys.AggregatedExternalDNS]) {
		managed[k] = true
	}
	var owned []string
	for _, key := range api.AggregatedExternalDNSKeys {
		if _, present := live[key]; present && !managed[key] {
			p.userOwnedDNSConflicts(key)
			continue
		}
		if v, ok := aggregate[key]; ok {
			want[key] = v
			owned = append(owned, key)
		} else {
			remove = append(remove, key)
		}
	}
	if len(owned) > 0 {
		want[p.keys.AggregatedExternalDNS] = strings.Join(owned, ",")
	} else {
		remove = append(remove, p.keys.AggregatedExternalDNS)
	}
	return remove
}

// channelDNS is what one channel asks of the mux's external-dns annotations: its
// hostname annotation as set, and its cloudflare-proxied one trimmed and lower-cased
// ("" when unset). The projection derives it with the other annotation-borne
// fields, so a pass reads it from the view and not from each Service's map.
type channelDNS struct {
	hostnames string
	proxied   string
}

func readChannelDNS(svc *corev1.Service, keys api.Keys) channelDNS {
	return channelDNS{hostnames: svc.Annotations[keys.ExternalDNSHostname],
		proxied: strings.ToLower(strings.TrimSpace(svc.Annotations[api.ExternalDNSCloudflareProxied]))}
}

// userOwnedDNSConflicts warns every channel that asked for a user-owned mux key.
func (p *pass) userOwnedDNSConflicts(muxKey string) {
	for _, c := range p.channels {
		channelKey := p.keys.ExternalDNSHostname
		asked := strings.TrimSpace(c.svc.Annotations[channelKey]) != ""
		if muxKey == api.ExternalDNSCloudflareProxied {
			channelKey = api.ExternalDNSCloudflareProxied
			_, asked = c.svc.Annotations[channelKey]
		}
		if asked {
			p.plan.Events = append(p.plan.Events, Event{Object: c.ref, Type: api.EventWarning,
				Reason: api.ReasonMuxExternalDNSAnnotationConflict,
				Message: fmt.Sprintf("channel annotation %s cannot be aggregated because mux %s already has a user-owned %s; remove it from the mux or from the channel",
					channelKey, p.mux, muxKey)})
		}
	}
}
