package state

// ConfigMapLimit is what one ConfigMap holds: the API server refuses a ConfigMap
// whose data and binaryData keys and values add up to more than 1 MiB (the limit it
// shares with Secrets).
const ConfigMapLimit = 1 << 20

// EncodeWithin is Encode when that fits in limit bytes and EncodeCompact otherwise
// (which may still not fit: the caller compares). It encodes once where it can: a
// mux far past the limit is not written out indented only to learn it does not fit.
func (d Document) EncodeWithin(limit int) string {
	d = d.normalized()                     // counted as they are written, and checked once
	if encodedSize(d, d.Claims) <= limit { // Encode's length, unless a name needs escapes
		if e := d.encode(&indented); len(e) <= limit {
			return e
		}
		return d.encode(&compact)
	}
	c := d.encode(&compact)
	if len(c)+d.whitespace() <= limit {
		return d.encode(&indented)
	}
	return c
}

// whitespace is len(Encode()) - len(EncodeCompact()) for normalised claims: the
// pieces are fixed, so it is what the pieces used lose, counted without writing
// either form.
func (d Document) whitespace() int {
	lost := func(pieces ...int) int {
		n := 0
		for _, f := range pieces {
			n += len(indented.frag[f]) - len(compact.frag[f])
		}
		return n
	}
	n := lost(docOpen, muxName, muxNamespace, portClaims, docClose)
	item := lost(claimOpen, muxPortKey, namespaceKey, portKey, portNameKey, protocolKey, serviceKey, sourceKey, claimClose)
	withPort := item + lost(channelPort, listSep)
	lists := [2]int{} // claims listed under allocations, under portClaims
	for i := range d.Claims {
		c := &d.Claims[i]
		one := item
		if c.ChannelPort != 0 {
			one = withPort
		}
		n += one
		lists[1]++
		if c.Source == SourceAuto {
			n += one
			lists[0]++
		}
	}
	for _, listed := range lists {
		if listed > 0 {
			n += lost(listOpen, listClose) + (listed-1)*lost(listSep)
		}
	}
	return n
}
