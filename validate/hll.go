package validate

import (
	"fmt"
	"math"
	"math/bits"
)

// hllPrecision is the number of index bits: 2^14 registers, a standard
// error of 1.04/sqrt(16384) ≈ 0.8%.
const hllPrecision = 14

// HLL is a HyperLogLog distinct-count sketch (Flajolet, Fusy, Gandouet,
// Meunier 2007) with the small-range linear-counting correction of
// Heule, Nunkesser, Hall 2013 §5. Registers merge by maximum, so the
// sketch of two partitions merged is bit-for-bit the sketch of their union.
type HLL struct {
	// Registers holds 2^14 leading-zero ranks; nil means empty.
	Registers []byte `json:"registers,omitempty"`
}

// AddHash adds a value by its 64-bit hash.
func (h *HLL) AddHash(x uint64) {
	if h.Registers == nil {
		h.Registers = make([]byte, 1<<hllPrecision)
	}
	idx := x >> (64 - hllPrecision)
	w := x<<hllPrecision | 1<<(hllPrecision-1)
	r := byte(bits.LeadingZeros64(w) + 1)
	if r > h.Registers[idx] {
		h.Registers[idx] = r
	}
}

// Merge folds o into h.
func (h *HLL) Merge(o *HLL) error {
	if o.Registers == nil {
		return nil
	}
	if len(o.Registers) != 1<<hllPrecision {
		return fmt.Errorf("hyperloglog: %d registers, want %d", len(o.Registers), 1<<hllPrecision)
	}
	if h.Registers == nil {
		h.Registers = make([]byte, 1<<hllPrecision)
	}
	for i, r := range o.Registers {
		if r > h.Registers[i] {
			h.Registers[i] = r
		}
	}
	return nil
}

// Estimate returns the estimated number of distinct values added.
func (h *HLL) Estimate() float64 {
	if h.Registers == nil {
		return 0
	}
	m := float64(len(h.Registers))
	sum, zeros := 0.0, 0
	for _, r := range h.Registers {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return e
}
