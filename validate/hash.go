package validate

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Constants of the 64-bit hash (wyhash's primes). The hash is fixed, not
// seeded per process, so that HyperLogLog registers saved in one run merge
// with those of another.
const (
	hashK0 = 0xa0761d6478bd642f
	hashK1 = 0xe7037ed1a0b428db
	hashK2 = 0x8ebc6af09c88c6e3
)

func hashMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hashBytes is a fast 64-bit hash of b that reads eight bytes at a time.
func hashBytes(b []byte) uint64 {
	h := uint64(len(b))*hashK2 ^ hashK0
	for len(b) >= 8 {
		h = hashMix(h^binary.LittleEndian.Uint64(b)^hashK1, hashK0^h>>7)
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = hashMix(h^t^hashK1, hashK0^uint64(len(b)))
	return hashMix(h^hashK2, hashK1)
}

// hashFloat hashes a number by its value (+0 and -0 alike, every NaN
// alike).
func hashFloat(v float64) uint64 {
	b := math.Float64bits(v + 0) // -0 + 0 = +0
	if v != v {
		b = 0x7ff8000000000001
	}
	return hashMix(hashMix(b^hashK0, hashK1)^hashK2, hashK0)
}
