package serve

import (
	"fmt"
	"testing"
)

func key(i int) CacheKey { return CacheKey{Model: "m", Version: "1", Row: uint64(i)} }

// CLOCK (Clipper §4.2's cache): a full cache evicts the first entry, from
// the hand on, that was not read since the hand last passed it.
func TestCacheClockEviction(t *testing.T) {
	c := NewCache(3)
	for i := 1; i <= 3; i++ {
		c.Put(key(i), []float32{float32(i)})
	}
	if _, ok := c.Get(key(1)); !ok { // 1 gets its second chance
		t.Fatal("1 missing")
	}
	c.Put(key(4), []float32{4}) // hand at 1: clears 1's bit, evicts 2
	want := map[int]bool{1: true, 2: false, 3: true, 4: true}
	for k, present := range want {
		if _, ok := c.Get(key(k)); ok != present {
			t.Errorf("after inserting 4: key %d present = %v, want %v", k, ok, present)
		}
	}
	// Now 1, 3, 4 were all read (bits set); the hand sweeps all of them,
	// clearing bits, and evicts the one it started from: 3 (slot 2).
	c.Put(key(5), []float32{5})
	if _, ok := c.Get(key(3)); ok {
		t.Error("3 survived a full sweep with every bit set")
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3", c.Len())
	}
	h, m := c.Stats()
	if h != 4 || m != 2 {
		t.Errorf("hits %d misses %d, want 4 and 2", h, m)
	}
}

func TestCacheBoundedAndDrop(t *testing.T) {
	c := NewCache(100)
	for i := range 1000 {
		c.Put(CacheKey{Model: "m", Version: fmt.Sprint(i % 2), Row: uint64(i)}, []float32{1})
	}
	if c.Len() != 100 {
		t.Fatalf("Len = %d, want the capacity 100", c.Len())
	}
	c.DropVersion("m", "0")
	if c.Len() != 50 {
		t.Errorf("after dropping version 0: Len = %d, want 50", c.Len())
	}
	z := NewCache(0)
	z.Put(key(1), []float32{1})
	if _, ok := z.Get(key(1)); ok {
		t.Error("a zero-capacity cache held an entry")
	}
}

func TestRowHashDistinguishesRows(t *testing.T) {
	c := NewCache(1)
	a := []float32{1, 2, 3}
	b := []float32{1, 2, 3.0000002}
	if c.RowHash(a) == c.RowHash(b) {
		t.Error("rows differing in one ulp hash alike")
	}
	if c.RowHash(a) != c.RowHash([]float32{1, 2, 3}) {
		t.Error("equal rows hash differently")
	}
}
