package validate

import "math"

// radixSort sorts a (no NaNs) in place by an LSD radix sort on the
// floats' order-preserving bit patterns, one byte a pass, skipping the
// passes where every key has the same byte (the sign, exponent and top
// mantissa bytes of one feature's values usually agree). It costs a few
// branch-free operations per value and pass where a comparison sort
// mispredicts a branch per comparison on random data. keys is scratch
// space, returned for reuse.
func radixSort(a []float64, keys []uint64) []uint64 {
	n := len(a)
	if n < 48 {
		sortFloats(a)
		return keys
	}
	if cap(keys) < 2*n {
		keys = make([]uint64, 2*n)
	}
	// One counting pass over a for all eight digits (the keys computed on
	// the fly), then a scatter pass for each digit on which the keys
	// differ: the first reads a, the last writes a.
	var count [8][256]int32
	for _, x := range a {
		k := floatKey(x)
		count[0][byte(k)]++
		count[1][byte(k>>8)]++
		count[2][byte(k>>16)]++
		count[3][byte(k>>24)]++
		count[4][byte(k>>32)]++
		count[5][byte(k>>40)]++
		count[6][byte(k>>48)]++
		count[7][byte(k>>56)]++
	}
	k0 := floatKey(a[0])
	var passes [8]uint
	np := 0
	for p := 0; p < 8; p++ {
		shift := uint(8 * p)
		c := &count[p]
		if int(c[byte(k0>>shift)]) == n {
			continue
		}
		var pos int32
		for d := range c {
			x := c[d]
			c[d] = pos
			pos += x
		}
		passes[np] = uint(p)
		np++
	}
	if np == 0 {
		return keys // every key the same: a is sorted
	}
	src, dst := keys[:n], keys[n:2*n]
	for q := 0; q < np; q++ {
		p := passes[q]
		shift := 8 * p
		c := &count[p]
		switch {
		case q == 0 && np == 1:
			// Read a, write the sorted bit patterns, copied back below.
			for _, x := range a {
				k := floatKey(x)
				d := byte(k >> shift)
				dst[c[d]] = math.Float64bits(x)
				c[d]++
			}
			for i, b := range dst {
				a[i] = math.Float64frombits(b)
			}
			return keys
		case q == 0:
			for _, x := range a {
				k := floatKey(x)
				d := byte(k >> shift)
				dst[c[d]] = k
				c[d]++
			}
		case q == np-1:
			for _, k := range src {
				d := byte(k >> shift)
				a[c[d]] = keyFloat(k)
				c[d]++
			}
			return keys
		default:
			for _, k := range src {
				d := byte(k >> shift)
				dst[c[d]] = k
				c[d]++
			}
		}
		src, dst = dst, src
	}
	return keys
}

// floatKey is x's order-preserving bit pattern: unsigned order of keys is
// the order of the floats, -0 before +0.
func floatKey(x float64) uint64 {
	b := math.Float64bits(x)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// keyFloat inverts floatKey.
func keyFloat(b uint64) float64 {
	if b>>63 == 1 {
		b &^= 1 << 63
	} else {
		b = ^b
	}
	return math.Float64frombits(b)
}

// sortFloats sorts a (no NaNs) in place: quicksort with a median-of-three
// pivot and insertion sort for short runs, cheaper than slices.Sort's
// NaN-aware comparisons on this hot path.
func sortFloats(a []float64) {
	for len(a) > 16 {
		m := len(a) / 2
		if a[m] < a[0] {
			a[0], a[m] = a[m], a[0]
		}
		if a[len(a)-1] < a[0] {
			a[0], a[len(a)-1] = a[len(a)-1], a[0]
		}
		if a[len(a)-1] < a[m] {
			a[m], a[len(a)-1] = a[len(a)-1], a[m]
		}
		p := a[m]
		i, j := 0, len(a)-1
		for i <= j {
			for a[i] < p {
				i++
			}
			for p < a[j] {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		if j+1 < len(a)-i {
			sortFloats(a[:j+1])
			a = a[i:]
		} else {
			sortFloats(a[i:])
			a = a[:j+1]
		}
	}
	for i := 1; i < len(a); i++ {
		x := a[i]
		j := i
		for j > 0 && x < a[j-1] {
			a[j] = a[j-1]
			j--
		}
		a[j] = x
	}
}
