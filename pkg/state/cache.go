package state

import "sync"

// Cache remembers the last decoded document of each state ConfigMap. An informer
// hands the planner the same string on every pass until the ConfigMap changes, and
// comparing a string with itself is immediate, so a steady pass skips decoding a
// document that can hold tens of thousands of claims. Safe for concurrent use; the
// returned Document is shared and must be treated as read-only.
type Cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	// nodePorts remembers nodeports.json the same way (nodeports.go).
	nodePorts map[string]nodePortsEntry
}

type cacheEntry struct {
	raw string
	doc Document
	err error
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[string]cacheEntry{}, nodePorts: map[string]nodePortsEntry{}}
}

// Decode is Decode(raw), remembered under key (the ConfigMap's namespace/name).
func (c *Cache) Decode(key, raw string) (Document, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.raw == raw {
		return e.doc, e.err
	}
	doc, err := Decode(raw)
	c.mu.Lock()
	c.entries[key] = cacheEntry{raw: raw, doc: doc, err: err}
	c.mu.Unlock()
	return doc, err
}

// Forget drops key, for a ConfigMap that was deleted.
func (c *Cache) Forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	delete(c.nodePorts, key)
	c.mu.Unlock()
}
