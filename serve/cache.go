package serve

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"
)

// CacheKey names one cached prediction: a model version's load and the
// hash of one input row.
type CacheKey struct {
	// Model and Version name the model version that answered.
	Model, Version string
	// Load tells apart the loads of one version (a version whose files
	// are replaced is loaded again): a request answered by the old load
	// can put its rows after the version's entries were dropped, and
	// they must not answer for the new load.
	Load uint64
	// Row is the 64-bit hash of the row's float32 values (RowHash).
	Row uint64
}

// Cache is a bounded prediction cache with CLOCK replacement (the
// second-chance approximation of LRU that Clipper's prediction cache uses,
// §4.2): entries sit in a ring with a reference bit that a hit sets; to
// make room, the hand sweeps the ring, clearing set bits and evicting the
// first entry whose bit is already clear. It is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	seed  maphash.Seed
	slots []cacheSlot
	index map[CacheKey]int
	hand  int

	hits, misses uint64
}

type cacheSlot struct {
	key  CacheKey
	val  []float32
	ref  bool
	used bool
}

// NewCache returns a cache holding at most capacity rows' predictions; a
// capacity of 0 or less gives a cache that holds nothing.
func NewCache(capacity int) *Cache {
	capacity = max(capacity, 0)
	return &Cache{seed: maphash.MakeSeed(), slots: make([]cacheSlot, capacity), index: make(map[CacheKey]int, capacity)}
}

// RowHash hashes one input row's values with the cache's process-local seed.
func (c *Cache) RowHash(row []float32) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var b [4 * 64]byte
	for len(row) > 0 {
		n := min(len(row), 64)
		for i, v := range row[:n] {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		h.Write(b[:4*n])
		row = row[n:]
	}
	return h.Sum64()
}

// Get returns the cached prediction for k, marking it recently used.
func (c *Cache) Get(k CacheKey) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.index[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.slots[i].ref = true
	return c.slots[i].val, true
}

// Put stores v (which the cache keeps; the caller must not change it) for k,
// evicting by CLOCK when the cache is full.
func (c *Cache) Put(k CacheKey, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.slots) == 0 {
		return
	}
	if i, ok := c.index[k]; ok {
		c.slots[i].val, c.slots[i].ref = v, true
		return
	}
	for {
		s := &c.slots[c.hand]
		if !s.used || !s.ref {
			if s.used {
				delete(c.index, s.key)
			}
			// A new entry starts with its bit clear: it survives one sweep
			// only if it is read again (second chance).
			*s = cacheSlot{key: k, val: v, used: true}
			c.index[k] = c.hand
			c.hand = (c.hand + 1) % len(c.slots)
			return
		}
		s.ref = false
		c.hand = (c.hand + 1) % len(c.slots)
	}
}

// DropVersion removes every entry of a model version (it was unloaded or
// replaced).
func (c *Cache) DropVersion(model, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		s := &c.slots[i]
		if s.used && s.key.Model == model && s.key.Version == version {
			delete(c.index, s.key)
			*s = cacheSlot{}
		}
	}
}

// Len returns the number of entries held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Stats returns the hits and misses counted by Get.
func (c *Cache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
