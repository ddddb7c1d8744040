package plan

// DeepCopy copies every object of the snapshot: what a caller may change freely
// (Compute never changes its input, so it never needs this itself).
func (s Snapshot) DeepCopy() Snapshot {
	out := Snapshot{Mux: s.Mux.DeepCopy(), MuxEndpoints: s.MuxEndpoints.DeepCopy(), StateConfigMap: s.StateConfigMap.DeepCopy(),
		NodePortHolder: s.NodePortHolder}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, c.DeepCopy())
	}
	for _, x := range s.ChannelSlices {
		out.ChannelSlices = append(out.ChannelSlices, x.DeepCopy())
	}
	for _, x := range s.MuxSlices {
		out.MuxSlices = append(out.MuxSlices, x.DeepCopy())
	}
	if s.Namespaces != nil {
		out.Namespaces = make(map[string]map[string]string, len(s.Namespaces))
		for ns, labels := range s.Namespaces {
			var cp map[string]string
			if labels != nil {
				cp = make(map[string]string, len(labels))
				for k, v := range labels {
					cp[k] = v
				}
			}
			out.Namespaces[ns] = cp
		}
	}
	return out
}
